# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors about user input that name the object and the field at fault."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class InputError(ValueError):
    """Input that cannot be processed; the message names the object, the field and the cause.

    Modules turn it into `fail_json(msg=str(error))`, so users see e.g.
    `Ingress shop/web: spec.rules[0].host: "Shop.example.com" is not a valid host name`.
    """

    def __init__(self, kind, ref, field, message):
        self.kind = kind
        self.ref = ref
        self.field = field
        self.message = message
        super(InputError, self).__init__(self.__str__())

    def __str__(self):
        where = "{0} {1}".format(self.kind, self.ref) if self.kind else self.ref
        if self.field:
            where += ": " + self.field
        return "{0}: {1}".format(where, self.message)


def field_path(*parts):
    """Join a field path the way kubectl prints it: spec.rules[0].http.paths[2].backend."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += "[{0}]".format(part)
        elif text:
            text += "." + part
        else:
            text = part
    return text


def too_deep(kind, ref):
    """The InputError for input nested so deep that walking it exhausted Python's recursion limit.
    Typed API objects never nest that deep; a module's offline input can. Entry points catch
    RecursionError and raise this, so the common path pays nothing for the check."""
    return InputError(kind, ref, "", "nested too deeply to be a Kubernetes object of this kind")


def depth_guarded(kind, error=InputError):
    """Decorate an entry point so that input nested past Python's recursion limit (met wherever the
    value is copied, printed or walked) is the collection's own error, never a RecursionError."""
    def decorate(function):
        def guarded(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except RecursionError:
                if error is InputError:
                    raise too_deep(kind, "<input>")
                raise error("{0}: nested too deeply to be read".format(kind))
        guarded.__name__ = function.__name__
        guarded.__doc__ = function.__doc__
        return guarded
    return decorate

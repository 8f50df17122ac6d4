# -*- coding: utf-8 -*-
# Copyright: adoptmesh.istio contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where Istio's Helm charts come from: one chart source (an OCI reference or an HTTP chart
repository), the chart references kubernetes.core's helm modules take for it, digest pins, and
the sources Istio has retired.

Since Istio 1.31 (2026-08-20) the charts are published only at `oci://ghcr.io/istio/release/charts`
and `https://blob.istio.io/istio-release/charts`; the old bucket stops at 1.30.x and is being
switched off (Istio 1.31 upgrade notes).

Pure logic, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re
import tarfile

from ansible_collections.adoptmesh.istio.plugins.module_utils.errors import InputError

OFFICIAL_OCI = "oci://ghcr.io/istio/release/charts"
OFFICIAL_HTTP = "https://blob.istio.io/istio-release/charts"
DEFAULT_SOURCE = OFFICIAL_OCI
# Chart names as Istio publishes them (the istiod chart's source folder is istio-discovery).
CHARTS = ("base", "istiod", "cni", "gateway", "ztunnel")
# Places Istio published charts or images before 1.31: nothing newer than 1.30.x is there, and
# they are being switched off.
RETIRED_CHART_HOSTS = ("istio-release.storage.googleapis.com", "gcr.io/istio-release", "registry.istio.io")

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
_PATH_RE = re.compile(r"^[a-z0-9]+([._/-][a-z0-9]+)*$")
_VERSION_RE = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$")


def _error(field, message):
    return InputError("", "chart source", field, message)


def parse_source(source, field="adoptmesh_chart_source"):
    """{kind: oci|http, location (no trailing slash), host} of a chart source, or InputError."""
    if not isinstance(source, str) or not source.strip():
        raise _error(field, "must be an oci:// reference or an http(s):// chart repository URL, got {0!r}".format(
            source if not isinstance(source, str) else ""))
    location = source.strip().rstrip("/")
    if any(c.isspace() for c in location):
        raise _error(field, "{0!r} contains white space".format(source))
    match = re.match(r"^(oci|https?)://([^/?#]+)(/[^?#]*)?$", location)
    if not match:
        raise _error(field, "{0!r} is neither an oci:// reference nor an http(s):// chart repository URL "
                            "(for example {1} or {2})".format(source, OFFICIAL_OCI, OFFICIAL_HTTP))
    scheme, host, path = match.group(1), match.group(2), (match.group(3) or "").strip("/")
    if "@" in host:
        # Never echoed: what stands before the @ is a credential.
        raise _error(field, "the URL carries credentials before its host (user:password@); log in with "
                            "`helm registry login` (OCI) or keep them out of the URL, never in it")
    if not _HOST_RE.match(host):
        raise _error(field, "{0!r}: {1!r} is not a host name".format(source, host))
    if scheme == "oci" and path and not _PATH_RE.match(path):
        raise _error(field, "{0!r}: {1!r} is not a valid OCI repository path (lower case, digits, . _ - /)".format(
            source, path))
    return {"kind": "oci" if scheme == "oci" else "http", "location": location, "host": host,
            "path": path}


def retired(source):
    """A sentence when the source is one Istio retired, else None."""
    location = parse_source(source)["location"]
    bare = location.split("://", 1)[1]
    for host in RETIRED_CHART_HOSTS:
        if bare == host or bare.startswith(host + "/"):
            return ("{0} is retired: Istio publishes nothing newer than 1.30.x there and is switching it off; "
                    "use {1} (OCI) or {2} (HTTP), or a mirror of one of them".format(location, OFFICIAL_OCI, OFFICIAL_HTTP))
    return None


def check_digest(chart, digest, field="adoptmesh_chart_digests"):
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise _error("{0}.{1}".format(field, chart),
                     "{0!r} is not a digest of the form sha256:<64 lower-case hex digits>".format(digest))
    return digest


def check_version(version, field="adoptmesh_istio_version"):
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise _error(field, "{0!r} is not a chart version such as 1.31.0".format(version))
    return version


def check_digests(digests, field="adoptmesh_chart_digests"):
    """The digest pins ({chart: sha256:...}) after checking names and form."""
    if digests is None:
        return {}
    if not isinstance(digests, dict):
        raise _error(field, "must be a mapping of chart name to sha256 digest, got {0}".format(type(digests).__name__))
    for chart, digest in digests.items():
        if chart not in CHARTS:
            raise _error("{0}.{1}".format(field, chart), "is not one of Istio's charts ({0})".format(", ".join(CHARTS)))
        check_digest(chart, digest, field)
    return dict(digests)


def oci_tag(version):
    """OCI tags cannot carry '+': Helm stores build metadata with '_' instead."""
    return version.replace("+", "_")


def chart_reference(source, chart, version, digest=None):
    """The arguments of kubernetes.core.helm / helm_template for one chart of the source:
    {chart_ref, chart_repo_url (None for OCI), chart_version, location} where `location` is what a
    person reads (oci://.../istiod:1.31.0@sha256:...)."""
    if chart not in CHARTS:
        raise _error("chart", "{0!r} is not one of Istio's charts ({1})".format(chart, ", ".join(CHARTS)))
    parsed = parse_source(source)
    check_version(version)
    if digest is not None:
        check_digest(chart, digest)
    if parsed["kind"] == "oci":
        ref = "{0}/{1}".format(parsed["location"], chart)
        # Helm installs an OCI chart by digest (oci://host/repo/chart@sha256:...) and, given the
        # version too, refuses a digest that is not the version tag's.
        return {"chart_ref": ref + ("@" + digest if digest else ""), "chart_repo_url": None,
                "chart_version": version,
                "location": "{0}:{1}{2}".format(ref, oci_tag(version), "@" + digest if digest else "")}
    return {"chart_ref": chart, "chart_repo_url": parsed["location"], "chart_version": version,
            "location": "{0}/{1}-{2}.tgz".format(parsed["location"], chart, version)}


def file_digest(path):
    """sha256:<hex> of a file (an HTTP repository's index.yaml lists the same for each chart)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def archive_chart(path):
    """(name, version) from the Chart.yaml of a chart archive, or (None, None)."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile():
                    text = archive.extractfile(member).read(1 << 20).decode("utf-8", "replace")
                    fields = dict(re.findall(r"^(name|version):\s*['\"]?([^'\"\s#]+)", text, re.MULTILINE))
                    return fields.get("name"), fields.get("version")
    except (OSError, tarfile.TarError, EOFError):
        pass
    return None, None


def pulled_digest(helm_output):
    """The OCI manifest digest `helm pull` prints (`Digest: sha256:...`), or None."""
    match = re.search(r"^Digest:\s*(sha256:[0-9a-f]{64})\s*$", helm_output or "", re.MULTILINE)
    return match.group(1) if match else None

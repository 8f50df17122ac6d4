"""A reader and writer of nginx.conf text, for deriving a runnable configuration from the one
ingress-nginx's template renders (nginx_oracle.py).

Directives keep their arguments as written (quotes included), so what is not changed is written
back byte for byte in meaning. `*_by_lua_block` bodies are kept as raw Lua text, as nginx's Lua
module reads them.
"""


class Directive:
    def __init__(self, name, args=(), block=None, lua=None):
        self.name = name
        self.args = list(args)
        self.block = block  # list of Directive, or None for a simple directive
        self.lua = lua  # raw Lua body of a *_by_lua_block

    def __repr__(self):
        return "Directive({0!r}, {1!r}{2})".format(self.name, self.args, ", block" if self.block is not None else "")

    def find(self, name):
        return [d for d in self.block or [] if d.name == name]


class ConfError(ValueError):
    pass


def _lua_body(text, start):
    """The Lua text from just after `{` to its matching `}`, and the index after that `}`."""
    depth, index = 1, start
    while index < len(text):
        char = text[index]
        if char in "\"'":
            index += 1
            while index < len(text) and text[index] != char:
                index += 2 if text[index] == "\\" else 1
        elif text.startswith("--", index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
        elif text.startswith("[[", index):
            end = text.find("]]", index)
            index = len(text) if end < 0 else end + 1
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:index], index + 1
        index += 1
    raise ConfError("unterminated Lua block")


def _tokens(text):
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
        elif char == "#":
            end = text.find("\n", index)
            index = length if end < 0 else end
        elif char in "{};":
            yield char, index + 1
            index += 1
        elif char in "\"'":
            end = index + 1
            while end < length and text[end] != char:
                end += 2 if text[end] == "\\" else 1
            if end >= length:
                raise ConfError("unterminated string at offset {0}".format(index))
            yield text[index:end + 1], end + 1
            index = end + 1
        else:
            end = index
            while end < length and not text[end].isspace() and text[end] not in ";'\"":
                if text[end] == "{" and not (end > index and text[end - 1] == "$"):
                    break
                if text[end] == "}" and "${" not in text[index:end]:
                    break
                end += 1
            yield text[index:end], end
            index = end


def parse(text):
    """The directives of a configuration text, nested."""
    root = []
    stack = [root]
    current = []
    index = 0
    while True:
        for token, after in _tokens(text[index:]):
            offset = index + after
            if token == ";":
                if current:
                    stack[-1].append(Directive(current[0], current[1:]))
                current = []
            elif token == "{":
                if not current:
                    raise ConfError("a block without a directive at offset {0}".format(offset))
                if current[0].endswith("_by_lua_block"):
                    body, index = _lua_body(text, offset)
                    stack[-1].append(Directive(current[0], current[1:], lua=body))
                    current = []
                    break  # tokenise again after the Lua body
                directive = Directive(current[0], current[1:], block=[])
                stack[-1].append(directive)
                stack.append(directive.block)
                current = []
            elif token == "}":
                if current or len(stack) == 1:
                    raise ConfError("unbalanced '}}' at offset {0}".format(offset))
                stack.pop()
            else:
                current.append(token)
        else:
            if current or len(stack) != 1:
                raise ConfError("unterminated directive or block at the end")
            return root


def dump(directives, indent=0):
    lines = []
    pad = "    " * indent
    for directive in directives:
        head = " ".join([directive.name] + directive.args)
        if directive.lua is not None:
            lines.append("{0}{1} {{{2}}}".format(pad, head, directive.lua))
        elif directive.block is not None:
            lines.append("{0}{1} {{".format(pad, head))
            lines.append(dump(directive.block, indent + 1))
            lines.append(pad + "}")
        else:
            lines.append("{0}{1};".format(pad, head))
    return "\n".join(line for line in lines if line)


def unquote(arg):
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        body = arg[1:-1]
        out, index = [], 0
        while index < len(body):
            if body[index] == "\\" and index + 1 < len(body):
                out.append(body[index + 1])
                index += 2
            else:
                out.append(body[index])
                index += 1
        return "".join(out)
    return arg


def quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

"""GraphQL SDL with `@wes_*` directives → IR (pure: no I/O)."""

from wesley.naming import Naming
from wesley.sdl.parser import ParseOptions, ParseResult, parse_sdl

__all__ = ["Naming", "ParseOptions", "ParseResult", "parse_sdl"]

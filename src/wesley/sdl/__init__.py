"""GraphQL SDL with `@wes_*` directives → IR (pure: no I/O)."""

from wesley.sdl.parser import ParseOptions, ParseResult, parse_sdl
from wesley.sdl.tables import Naming

__all__ = ["Naming", "ParseOptions", "ParseResult", "parse_sdl"]

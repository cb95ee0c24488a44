"""The `file_path` route convertor: the rest of a URL's path, newlines included (a file's name may hold one)."""

from starlette.convertors import Convertor, register_url_convertor


class FilePathConvertor(Convertor[str]):
    """As Starlette's `path`, but `%0A` in a URL is a newline of the name, not the end of a route's match."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


CONVERTOR = "file_path"
"""Its name in a route's path: `{path:file_path}`."""
register_url_convertor(CONVERTOR, FilePathConvertor())

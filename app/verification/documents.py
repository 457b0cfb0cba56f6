"""What an uploaded document really is, decided from its bytes (never its name or Content-Type)."""

from __future__ import annotations

import hashlib
import io
import warnings

import msgspec
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from app.core.errors import AppError

# Magic numbers of the types we accept.
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF", "image/webp": "WEBP"}


class UnsupportedDocumentType(AppError):
    status, code, title = 415, "unsupported_document_type", "Unsupported document type"


class UnreadableDocument(AppError):
    status, code, title = 422, "unreadable_document", "The document cannot be read"


class DocumentTooLarge(AppError):
    status, code, title = 413, "document_too_large", "The document is too large"


class Inspected(msgspec.Struct, frozen=True):
    content_type: str
    sha256: str
    size: int
    pages: int | None = None
    width: int | None = None
    height: int | None = None


def sniff(data: bytes) -> str | None:
    """The content type the leading bytes prove, or None."""
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    # PDF allows up to 1 KiB of junk before the header; some scanners write it.
    if b"%PDF-" in data[:1024]:
        return "application/pdf"
    return None


def inspect(data: bytes, *, max_bytes: int, max_pixels: int) -> Inspected:
    """Check a document fully: size, type by content, and that it actually parses (PDF) or decodes (image)."""
    if len(data) > max_bytes:
        raise DocumentTooLarge(f"a document may be at most {max_bytes:,} bytes", maxBytes=max_bytes)
    if not data:
        raise UnreadableDocument("the file is empty")
    content_type = sniff(data)
    if content_type is None:
        raise UnsupportedDocumentType(
            "only PDF, JPEG, PNG, TIFF and WebP documents are accepted (decided by content, not by name)",
            accepted=["application/pdf", "image/jpeg", "image/png", "image/tiff", "image/webp"],
        )
    digest = hashlib.sha256(data).hexdigest()
    if content_type == "application/pdf":
        return Inspected(content_type, digest, len(data), pages=_pdf_pages(data))
    width, height = _image_size(data, content_type, max_pixels)
    return Inspected(content_type, digest, len(data), width=width, height=height)


def _pdf_pages(data: bytes) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise UnreadableDocument("encrypted PDFs cannot be checked; upload an unprotected copy")
            pages = len(reader.pages)
            if pages:
                reader.pages[0].extract_text()  # the first page's content stream must decode too
    except UnreadableDocument:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        raise UnreadableDocument(f"the PDF does not parse ({type(exc).__name__})") from None
    if pages == 0:
        raise UnreadableDocument("the PDF has no pages")
    return pages


def _image_size(data: bytes, content_type: str, max_pixels: int) -> tuple[int, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[content_type]]) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise UnreadableDocument(f"the image has more than {max_pixels:,} pixels")
                image.load()  # decode every pixel: a truncated or corrupt file fails here
    except UnreadableDocument:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:  # fmt: skip
        raise UnreadableDocument(f"the image does not decode ({type(exc).__name__})") from None
    return width, height

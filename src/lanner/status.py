"""HTTP status codes as named constants, and their reason phrases.

Every code of Python 3.11's `http.HTTPStatus` is written out as an `int` constant named after its
RFC 9110 reason phrase (`HTTP_422_UNPROCESSABLE_CONTENT`), so type checkers and editors see them.
The names RFC 7231 used before RFC 9110 renamed them stay available as aliases.

Example:
    >>> from lanner import status
    >>> status.HTTP_404_NOT_FOUND
    404
    >>> status.phrase(404)
    'Not Found'

"""

from __future__ import annotations

from typing import Final

# 1xx Informational
HTTP_100_CONTINUE: Final = 100
HTTP_101_SWITCHING_PROTOCOLS: Final = 101
HTTP_102_PROCESSING: Final = 102
HTTP_103_EARLY_HINTS: Final = 103

# 2xx Successful
HTTP_200_OK: Final = 200
HTTP_201_CREATED: Final = 201
HTTP_202_ACCEPTED: Final = 202
HTTP_203_NON_AUTHORITATIVE_INFORMATION: Final = 203
HTTP_204_NO_CONTENT: Final = 204
HTTP_205_RESET_CONTENT: Final = 205
HTTP_206_PARTIAL_CONTENT: Final = 206
HTTP_207_MULTI_STATUS: Final = 207
HTTP_208_ALREADY_REPORTED: Final = 208
HTTP_226_IM_USED: Final = 226

# 3xx Redirection
HTTP_300_MULTIPLE_CHOICES: Final = 300
HTTP_301_MOVED_PERMANENTLY: Final = 301
HTTP_302_FOUND: Final = 302
HTTP_303_SEE_OTHER: Final = 303
HTTP_304_NOT_MODIFIED: Final = 304
HTTP_305_USE_PROXY: Final = 305
HTTP_307_TEMPORARY_REDIRECT: Final = 307
HTTP_308_PERMANENT_REDIRECT: Final = 308

# 4xx Client error
HTTP_400_BAD_REQUEST: Final = 400
HTTP_401_UNAUTHORIZED: Final = 401
HTTP_402_PAYMENT_REQUIRED: Final = 402
HTTP_403_FORBIDDEN: Final = 403
HTTP_404_NOT_FOUND: Final = 404
HTTP_405_METHOD_NOT_ALLOWED: Final = 405
HTTP_406_NOT_ACCEPTABLE: Final = 406
HTTP_407_PROXY_AUTHENTICATION_REQUIRED: Final = 407
HTTP_408_REQUEST_TIMEOUT: Final = 408
HTTP_409_CONFLICT: Final = 409
HTTP_410_GONE: Final = 410
HTTP_411_LENGTH_REQUIRED: Final = 411
HTTP_412_PRECONDITION_FAILED: Final = 412
HTTP_413_CONTENT_TOO_LARGE: Final = 413
HTTP_414_URI_TOO_LONG: Final = 414
HTTP_415_UNSUPPORTED_MEDIA_TYPE: Final = 415
HTTP_416_RANGE_NOT_SATISFIABLE: Final = 416
HTTP_417_EXPECTATION_FAILED: Final = 417
HTTP_418_IM_A_TEAPOT: Final = 418
HTTP_421_MISDIRECTED_REQUEST: Final = 421
HTTP_422_UNPROCESSABLE_CONTENT: Final = 422
HTTP_423_LOCKED: Final = 423
HTTP_424_FAILED_DEPENDENCY: Final = 424
HTTP_425_TOO_EARLY: Final = 425
HTTP_426_UPGRADE_REQUIRED: Final = 426
HTTP_428_PRECONDITION_REQUIRED: Final = 428
HTTP_429_TOO_MANY_REQUESTS: Final = 429
HTTP_431_REQUEST_HEADER_FIELDS_TOO_LARGE: Final = 431
HTTP_451_UNAVAILABLE_FOR_LEGAL_REASONS: Final = 451

# 5xx Server error
HTTP_500_INTERNAL_SERVER_ERROR: Final = 500
HTTP_501_NOT_IMPLEMENTED: Final = 501
HTTP_502_BAD_GATEWAY: Final = 502
HTTP_503_SERVICE_UNAVAILABLE: Final = 503
HTTP_504_GATEWAY_TIMEOUT: Final = 504
HTTP_505_HTTP_VERSION_NOT_SUPPORTED: Final = 505
HTTP_506_VARIANT_ALSO_NEGOTIATES: Final = 506
HTTP_507_INSUFFICIENT_STORAGE: Final = 507
HTTP_508_LOOP_DETECTED: Final = 508
HTTP_510_NOT_EXTENDED: Final = 510
HTTP_511_NETWORK_AUTHENTICATION_REQUIRED: Final = 511

# Names used before RFC 9110 renamed these codes; kept so older code keeps working.
HTTP_413_REQUEST_ENTITY_TOO_LARGE: Final = 413
HTTP_414_REQUEST_URI_TOO_LONG: Final = 414
HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE: Final = 416
HTTP_422_UNPROCESSABLE_ENTITY: Final = 422

_PHRASES: Final[dict[int, str]] = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a Teapot",
    421: "Misdirected Request",
    422: "Unprocessable Content",
    423: "Locked",
    424: "Failed Dependency",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required",
}


def phrase(code: int) -> str:
    """Return the RFC 9110 reason phrase of a status code.

    Args:
        code: the numeric HTTP status code.

    Returns:
        The reason phrase (`"Unprocessable Content"` for 422), or `""` when the code is unknown.
        Never raises.

    """
    return _PHRASES.get(code, "")

"""boto3's failures as countable reasons, the same for every S3-backed provider.

Wasabi's bucket inventory and the FOCUS import from an S3 prefix both read S3 with
boto3; a throttled request or a missing bucket must count the same reason in both.
botocore is imported inside the functions: it costs tens of MB, and an exporter
without an S3-backed provider must not pay for it. AWS's own error text is dropped,
since it may echo an access key id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cost_exporter.errors import CollectorError, reason_for_status

AUTH_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"})
THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "TooManyRequests"})
# The operator's to fix (a typo in the bucket or prefix), not a provider fault.
CONFIG_CODES = frozenset({"NoSuchBucket", "NoSuchKey"})


def s3_error(exc: BaseException, where: str) -> CollectorError:
    """A boto3 failure as a counted reason, with `where` (e.g. "S3 ListBuckets") in front."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        HTTPClientError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in AUTH_CODES:
            reason = "auth"
        elif code in THROTTLE_CODES:
            reason = "rate_limited"
        elif code in CONFIG_CODES:
            reason = "config"
        elif status >= 400:
            reason = reason_for_status(status)
        else:
            reason = "http_4xx"
        return CollectorError(reason, f"{where}: {code or 'error'} (HTTP {status or '?'})")
    if isinstance(exc, NoCredentialsError):
        return CollectorError("config", f"{where}: no S3 credentials found")
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return CollectorError("timeout", f"{where}: timed out")
    if isinstance(exc, EndpointConnectionError | HTTPClientError):
        return CollectorError("connection", f"{where}: connection failed ({type(exc).__name__})")
    # Anything else botocore raises (a parameter it refuses, ...) is the exporter's own bug.
    return CollectorError("internal", f"{where}: {type(exc).__name__}")


@contextmanager
def s3_errors(where: str) -> Iterator[None]:
    """Raise what `s3_error` makes of a boto3 failure inside the block."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise s3_error(exc, where) from None

"""One error vocabulary for every service (ARCHITECTURE.md section 9).

Core code raises these; grpcutil maps them to gRPC status codes on the server side and back to
these classes on the client side; the apiserver maps them to HTTP status codes.
"""

import grpc


class DockyardError(Exception):
    code = grpc.StatusCode.UNKNOWN
    http_status = 500

    def __init__(self, message=""):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


class NotFound(DockyardError):
    code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class Conflict(DockyardError):
    code = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409


class InvalidArgument(DockyardError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class FailedPrecondition(DockyardError):
    """The object is in the wrong state for the request (e.g. removing a running container)."""
    code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 409


class PermissionDenied(DockyardError):
    """Refused by a setting of the object (a read-only volume or rootfs): HTTP 403."""
    code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403


class NotModified(DockyardError):
    """Nothing to do (start of a running container, stop of a stopped one): HTTP 304."""
    code = grpc.StatusCode.OUT_OF_RANGE
    http_status = 304


class Unavailable(DockyardError):
    code = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class NotImplementedYet(DockyardError):
    code = grpc.StatusCode.UNIMPLEMENTED
    http_status = 501


class Internal(DockyardError):
    code = grpc.StatusCode.INTERNAL
    http_status = 500


_BY_CODE = {cls.code: cls for cls in (NotFound, Conflict, InvalidArgument, FailedPrecondition,
                                      PermissionDenied, NotModified, Unavailable, NotImplementedYet, Internal)}


def from_grpc(exc):
    """Turn a grpc.RpcError into the matching DockyardError (Internal when unknown)."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return Unavailable(details or "deadline exceeded")
    return _BY_CODE.get(code, Internal)(details or str(code))

"""Daraja's error envelope: `{"requestId", "errorCode", "errorMessage"}` with its HTTP status."""

from starlette.responses import JSONResponse


class DarajaError(Exception):
    def __init__(self, http_status: int, error_code: str, error_message: str) -> None:
        super().__init__(f"{error_code} {error_message}")
        self.http_status = http_status
        self.error_code = error_code
        self.error_message = error_message

    def response(self, request_id: str) -> JSONResponse:
        body = {"requestId": request_id, "errorCode": self.error_code, "errorMessage": self.error_message}
        return JSONResponse(body, status_code=self.http_status)


def invalid_field(name: str) -> DarajaError:
    return DarajaError(400, "400.002.02", f"Bad Request - Invalid {name}")


def invalid_authentication() -> DarajaError:
    return DarajaError(400, "400.008.01", "Invalid Authentication passed")


def invalid_grant_type() -> DarajaError:
    return DarajaError(400, "400.008.02", "Invalid grant type passed")


def invalid_access_token() -> DarajaError:
    return DarajaError(404, "404.001.03", "Invalid Access Token")


def resource_not_found() -> DarajaError:
    return DarajaError(404, "404.001.01", "Resource not found")


def merchant_does_not_exist() -> DarajaError:
    return DarajaError(500, "500.001.1001", "Merchant does not exist")


def being_processed(message: str = "The transaction is being processed") -> DarajaError:
    return DarajaError(500, "500.001.1001", message)


def spike_arrest() -> DarajaError:
    return DarajaError(500, "500.003.02", "System is busy. Please try again in few minutes.")

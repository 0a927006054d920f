"""The two exceptions that cross module boundaries on purpose."""


class UserFacingError(Exception):
    """A user mistake; its text (Chinese, with an example) is the reply. Nothing was stored."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class DingTalkApiError(Exception):
    """A DingTalk API call failed; carries the HTTP status and DingTalk's error code, never secrets."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"DingTalk API error {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class StorageLost(Exception):
    """The database file is gone or replaced: nothing may be confirmed as stored any more."""

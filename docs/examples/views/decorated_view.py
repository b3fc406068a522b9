import functools
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from trioweb import App, Blueprint, View, abort, request

AsyncView = Callable[..., Awaitable[Any]]


def api_key_required(view: AsyncView) -> AsyncView:
    @functools.wraps(view)
    async def checked(**kwargs: Any) -> Any:
        if request.headers.get("X-Api-Key") != "s3cret":
            abort(401)
        return await view(**kwargs)

    return checked


class Report(View):
    """One class, two reports: the constructor's argument says which."""

    methods: ClassVar[list[str]] = ["GET"]
    decorators: ClassVar[list[Callable[..., Any]]] = [api_key_required]

    def __init__(self, period: str) -> None:
        self.period = period

    async def dispatch_request(self, **kwargs: Any) -> dict[str, Any]:
        return {"period": self.period, "year": kwargs["year"]}


reports = Blueprint("reports", __name__, url_prefix="/reports")
monthly = Report.as_view("monthly", "month")
reports.add_url_rule("/<int:year>/monthly", view_func=monthly)
reports.add_url_rule("/<int:year>/weekly", view_func=Report.as_view("weekly", "week"))

app = App(__name__)
app.register_blueprint(reports)

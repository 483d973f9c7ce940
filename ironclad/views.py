"""What every API view shares: the path pattern of an object id, and strict query parameters."""

from typing import TYPE_CHECKING

from rest_framework import exceptions
from rest_framework.request import Request

from ironclad.pagination import PAGING_PARAMS

if TYPE_CHECKING:  # a mixin typed against the view it is mixed into
    from rest_framework.views import APIView

    _ViewMixinBase = APIView
else:
    _ViewMixinBase = object

# The path pattern of a numeric object id.
OBJECT_ID = "[0-9]+"


class StrictQueryParams(_ViewMixinBase):
    """A view mixin: query parameters the action does not take are a 400 that names them, so that
    a typo (`priorty=high`) never looks like a working filter. An action takes `page` and
    `page_size` when it is listed in `paginated_actions`, and the names in `query_params[action]`."""

    paginated_actions: tuple[str, ...] = ()
    query_params: dict[str, tuple[str, ...]] = {}

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if not hasattr(self, (request.method or "").lower()):
            return  # a method the view does not take: its 405 comes next
        if unknown := request.query_params.keys() - self.query_param_names():
            message = "Unknown query parameter."
            raise exceptions.ValidationError({name: [message] for name in sorted(unknown)})

    def query_param_names(self) -> set[str]:
        action = getattr(self, "action", None)
        names = set(self.query_params.get(action, ())) if action is not None else set()
        if action in self.paginated_actions:
            names |= PAGING_PARAMS
        return names

"""JSON bodies nested too deeply to parse are a 400 before any route reads them.

Python's JSON parser recurses once per level and gives up with a
RecursionError (not a ValueError) somewhere near a thousand levels, which the
request parsers let through as a 500. No body of this API nests past two.
"""

from __future__ import annotations

import json

from apiflask import APIFlask, abort
from flask import request


def init_app(app: APIFlask) -> None:
    app.before_request(refuse_unparsable_json)


def refuse_unparsable_json() -> None:
    if not request.is_json:
        return
    try:
        json.loads(request.get_data(cache=True))
    except RecursionError:
        abort(400, "The JSON body is nested too deeply to read.")
    except ValueError:
        pass  # the route's own parser says what is wrong with it

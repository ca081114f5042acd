"""ConsoleService: the console's files, from :class:`server.console.assets.ConsoleAssets`."""

from __future__ import annotations

import grpc
from elasticjob.cloud.v1 import console_pb2, console_pb2_grpc
from google.api import httpbody_pb2

from server.console.assets import ConsoleAssets
from server.domain.errors import NotFound

# Browsers check with the server before using a cached copy, so a new version shows at once.
CACHE_CONTROL = "no-cache"


class ConsoleServicer(console_pb2_grpc.ConsoleServiceServicer):
    def __init__(self, assets: ConsoleAssets) -> None:
        self._assets = assets

    def GetConsoleAsset(
        self, request: console_pb2.GetConsoleAssetRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        asset = self._assets.find(request.path)
        if asset is None:
            raise NotFound(f"no console file {request.path[:100]!r}")
        context.send_initial_metadata((("cache-control", CACHE_CONTROL), ("etag", asset.etag)))
        return httpbody_pb2.HttpBody(content_type=asset.content_type, data=asset.data)

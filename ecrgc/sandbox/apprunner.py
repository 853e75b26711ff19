"""App Runner's ListServices, DescribeService and CreateService (JSON 1.0, target prefix `AppRunner.`),
just enough for ecrgc's App Runner reader to be tested and benchmarked: moto 5.2 has no App Runner.

Faithful where the reader depends on it: MaxResults 1 to 20 (default 20) with an opaque NextToken, summaries
without the source, DescribeService by ARN with ResourceNotFoundException, errors as
`{"__type": code, "Message": …}`. Services are created RUNNING; nothing is ever deployed.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecrgc.sandbox.exceptions import ApiError

TARGET_PREFIX = "AppRunner."
MAX_RESULTS = 20
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-_]{3,39}")

Body = dict[str, Any]


@dataclass
class AppRunner:
    """The App Runner services of one account and region."""

    account: str
    region: str
    services: dict[str, Body] = field(default_factory=dict)
    """ARN → the Service as DescribeService returns it, in creation order."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, operation: str, body: Body, now: datetime) -> Body:
        """Answer one App Runner call, or raise `ApiError`."""
        with self.lock:
            match operation:
                case "ListServices":
                    return self._list(body)
                case "DescribeService":
                    return {"Service": self._get(body)}
                case "CreateService":
                    return self._create(body, now)
                case _:
                    raise ApiError("UnknownOperationException", f"Unknown operation {operation}")

    def _list(self, body: Body) -> Body:
        limit = body.get("MaxResults", MAX_RESULTS)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
            raise _invalid(f"MaxResults must be between 1 and {MAX_RESULTS}")
        arns = list(self.services)
        start = 0
        if token := body.get("NextToken"):
            try:
                start = arns.index(base64.b64decode(token, validate=True).decode())
            except (ValueError, UnicodeDecodeError):
                raise _invalid("The NextToken is invalid") from None
        page = arns[start : start + limit]
        summary = ("ServiceName", "ServiceId", "ServiceArn", "ServiceUrl", "CreatedAt", "UpdatedAt", "Status")
        reply: Body = {"ServiceSummaryList": [{k: self.services[a][k] for k in summary} for a in page]}
        if start + limit < len(arns):
            reply["NextToken"] = base64.b64encode(arns[start + limit].encode()).decode()
        return reply

    def _get(self, body: Body) -> Body:
        arn = body.get("ServiceArn")
        if not isinstance(arn, str) or not arn:
            raise _invalid("ServiceArn is required")
        if arn not in self.services:
            raise ApiError("ResourceNotFoundException", f"Resource {arn} is not found")
        return self.services[arn]

    def _create(self, body: Body, now: datetime) -> Body:
        name, source = body.get("ServiceName"), body.get("SourceConfiguration")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _invalid("ServiceName must match [A-Za-z0-9][A-Za-z0-9-_]{3,39}")
        if not isinstance(source, dict) or ("ImageRepository" in source) == ("CodeRepository" in source):
            raise _invalid("SourceConfiguration needs exactly one of ImageRepository and CodeRepository")
        if any(s["ServiceName"] == name for s in self.services.values()):
            raise _invalid(f"Service with the provided name already exists: {name}")
        service_id = uuid.uuid4().hex
        arn = f"arn:aws:apprunner:{self.region}:{self.account}:service/{name}/{service_id}"
        stamp = now.timestamp()
        service: Body = {
            "ServiceName": name,
            "ServiceId": service_id,
            "ServiceArn": arn,
            "ServiceUrl": f"{service_id[:10]}.{self.region}.awsapprunner.com",
            "CreatedAt": stamp,
            "UpdatedAt": stamp,
            "Status": "RUNNING",
            "SourceConfiguration": source,
            "InstanceConfiguration": {"Cpu": "1024", "Memory": "2048"},
            "AutoScalingConfigurationSummary": {"AutoScalingConfigurationName": "DefaultConfiguration"},
            "NetworkConfiguration": {"EgressConfiguration": {"EgressType": "DEFAULT"}},
        }
        self.services[arn] = service
        return {"Service": service, "OperationId": uuid.uuid4().hex}


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidRequestException", message)

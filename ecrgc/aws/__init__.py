"""The only boto3/botocore user in ecrgc: reading and changing ECR, and asking STS who we are.

    client.py      clients (pool size, retry mode), error translation to `ecrgc.errors`
    inventory.py   repositories, images (archived too), children of indexes: fail closed
    wire.py        DescribeImages pages decoded by msgspec into typed records (not botocore's parser)
    mutations.py   BatchDeleteImage / UpdateImageStorageClass / DeleteRepository -> one Outcome per item
    registry.py    `Registry`: the facade the commands hold, with the concurrent `scan`

Foreign replies become model objects here (`images_from_ecr`), so nothing else knows the SDK's shapes.
"""

from ecrgc.aws.client import NO_CREDENTIALS, RetryMode, ecr_client
from ecrgc.aws.inventory import RepositoryListing, images_from_ecr, parse_children
from ecrgc.aws.registry import DEFAULT_WORKERS, Registry

__all__ = [
    "DEFAULT_WORKERS",
    "NO_CREDENTIALS",
    "Registry",
    "RepositoryListing",
    "RetryMode",
    "ecr_client",
    "images_from_ecr",
    "parse_children",
]

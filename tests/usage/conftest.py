"""The usage sources' tests use tests/aws's fresh-moto-state fixture."""

from tests.aws.conftest import moto  # noqa: F401  # re-exported as a fixture for this directory

"""ecrgc: declarative, plan/apply garbage collection for AWS ECR."""

__version__ = "0.1.0"

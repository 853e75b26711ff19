"""A faithful local ECR for tests, benchmarks and `ecrgc demo` (no boto3 here: this is the server side).

    from ecrgc.sandbox import Sandbox

    with Sandbox(account="123456789012", region="ap-northeast-1") as sandbox:   # port=0: a free port
        os.environ.update(sandbox.environ())       # AWS_ENDPOINT_URL, dummy keys, AWS_REGION
        digest = sandbox.registry.push_image("web", tags=["v1"], pushed_at=sandbox.clock.now() - 90 * DAY,
                                             platforms=["linux/amd64", "linux/arm64"])
        sandbox.registry.push_referrer("web", digest)             # OCI 1.1 signature (subject = digest)
        sandbox.registry.push_cosign_signature("web", digest)     # tagged sha256-<hex>.sig
        sandbox.knobs.latency_ms = 5
        sandbox.knobs.throttle("DescribeImages", rate=10)         # HTTP 400 ThrottlingException beyond
        sandbox.knobs.error_rate = 0.01                           # HTTP 500 ServerException, seeded RNG
        sandbox.clock.set(datetime(2026, 1, 1, tzinfo=UTC))       # or .advance(seconds)
        ... boto3 calls ...
        sandbox.calls["DescribeImages"]                            # calls received per operation

Several registries behind the one endpoint: each (account, region) is its own `Registry`
(`sandbox.registry_for(account, region)`; `sandbox.registry` is the default one). The region comes from each
request's SigV4 credential scope, the account from the caller: the default `sandbox` key is the default
account, `sandbox.user(account)` gives the environment of a user in another one, and STS AssumeRole's
temporary credentials act in the role's account (`knobs.denied_roles` refuses some). `registryId` reaches
another account's registry only when that registry is `shared_with` the caller's account (else
AccessDeniedException). DescribeRegistry answers the registry's `replication` (seed key `replication:`).
App Runner stays the default account's.

Seeding: `seed.load(registry, path)`, or `seed.load_into(sandbox, path)` for a file naming its account
and region (declarative YAML, see tests/data/sandbox/ and demo.yaml), and
`synth.generate(registry, SynthSpec(...))` (large synthetic registries from a fixed random seed).
Modules: server (HTTP + Sandbox), api (operations and their limits), registry / deletion / repository
(state and rules), identity / sts (callers, STS), replication (its configuration's rules), knobs (clock,
faults, rate limits, ⚠ choices), manifests (real OCI manifests).
"""

from ecrgc.sandbox.knobs import Clock, Knobs, SameCallChildren, SubjectDelete
from ecrgc.sandbox.registry import Registry
from ecrgc.sandbox.server import Sandbox

__all__ = ["Clock", "Knobs", "Registry", "SameCallChildren", "Sandbox", "SubjectDelete"]

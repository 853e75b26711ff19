#!/usr/bin/env bash
# The images a cluster uses, written as IMG_LIST/<ENV>_IMG_LIST.txt, with kubectl alone (no jq, no ecrgc):
# for teams that cannot run `ecrgc inuse export` (see rbac-cronjob.yaml) but can run kubectl against the
# cluster. It reads what ecrgc reads: pods (containers, init and ephemeral containers, image volumes, and
# the digests that actually run from status imageIDs), every Deployment, ReplicaSet (replicas 0 too),
# StatefulSet, DaemonSet, ControllerRevision, Job, CronJob, ReplicationController and PodTemplate, plus Argo
# Rollouts, Knative Services/Configurations/Revisions and KEDA ScaledJobs when their CRDs exist.
#
# Usage: list_img.sh ENV [kubectl options…]     e.g.  list_img.sh PRD --context prd
#   IMG_LIST_DIR   where to write (default: IMG_LIST)
#   ALLOW_EMPTY=1  accept a cluster without any pod (otherwise that is an error: never "nothing in use")
# Any kubectl failure (Forbidden, unreachable, expired credentials) stops the script and leaves the previous
# list untouched: the list is written to a temporary file and renamed only when complete.
set -euo pipefail
env_name=${1:?usage: list_img.sh ENV [kubectl options…]}
shift
out_dir=${IMG_LIST_DIR:-IMG_LIST}
out="$out_dir/${env_name}_IMG_LIST.txt"
mkdir -p "$out_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

k() { kubectl "$@"; }
get() {  # get RESOURCE JSONPATH: every object in every namespace, in pages of 500
  k "${kubectl_args[@]}" get "$1" --all-namespaces --chunk-size=500 -o "jsonpath=$2"
}
kubectl_args=("$@")
nl='{"\n"}'
spec() {  # the images of the PodSpec at $1
  local s=$1
  printf '%s' "{range $s.containers[*]}{.image}$nl{end}{range $s.initContainers[*]}{.image}$nl{end}"
  printf '%s' "{range $s.ephemeralContainers[*]}{.image}$nl{end}{range $s.volumes[*]}{.image.reference}$nl{end}"
}
status() {  # the running digests in the pod status at $1
  local f
  for f in containerStatuses initContainerStatuses ephemeralContainerStatuses; do
    printf '%s' "{range $1.${f}[*]}{.imageID}$nl{range .volumeMounts[*]}{.volumeStatus.image.imageRef}$nl{end}{end}"
  done
}

get pods "{range .items[*]}$(spec .spec)$(status .status){end}" >"$work/pods"
k "${kubectl_args[@]}" api-resources -o name >"$work/resources"
has() { grep -qx "$1" "$work/resources"; }
{
  for kind in deployments.apps replicasets.apps statefulsets.apps daemonsets.apps jobs.batch \
    replicationcontrollers; do
    get "$kind" "{range .items[*]}$(spec .spec.template.spec){end}"
  done
  get cronjobs.batch "{range .items[*]}$(spec .spec.jobTemplate.spec.template.spec){end}"
  get podtemplates "{range .items[*]}$(spec .template.spec){end}"
  # A ControllerRevision stores a patch of the template: its containers' and image volumes' images.
  get controllerrevisions.apps "{range .items[*]}$(spec .data.){end}"  # .data..containers: at any depth
  if has rollouts.argoproj.io; then
    get rollouts.argoproj.io "{range .items[*]}$(spec .spec.template.spec){end}"
  fi
  for kind in services configurations; do
    if has "$kind.serving.knative.dev"; then
      get "$kind.serving.knative.dev" "{range .items[*]}$(spec .spec.template.spec){end}"
    fi
  done
  if has revisions.serving.knative.dev; then
    get revisions.serving.knative.dev \
      "{range .items[*]}$(spec .spec){range .status.containerStatuses[*]}{.imageDigest}$nl{end}{end}"
  fi
  if has scaledjobs.keda.sh; then
    get scaledjobs.keda.sh "{range .items[*]}$(spec .spec.jobTargetRef.template.spec){end}"
  fi
} >"$work/images"

if [[ ! -s "$work/pods" && -z "${ALLOW_EMPTY:-}" ]]; then
  echo "list_img.sh: the cluster returned no pods at all; refusing to write an empty list (ALLOW_EMPTY=1 if expected)" >&2
  exit 1
fi
# imageID forms: repo@sha256:… and docker-pullable://repo@sha256:… name a registry digest; a bare
# sha256:… or docker://sha256:… is a local config digest, and an empty one a container not started yet.
sed -e 's|^docker-pullable://||' -e '/^docker:\/\//d' -e '/^sha256:/d' -e '/^[[:space:]]*$/d' \
  "$work/pods" "$work/images" | LC_ALL=C sort -u >"$work/all"
# What no registry could serve (e.g. upper case in a repository name) protects nothing, and a reader of the
# list (ecrgc plan) would stop on it: report it here instead (distribution/reference grammar).
component='[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*'
host='([a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+(:[0-9]+)?|[a-zA-Z0-9-]+:[0-9]+|localhost(:[0-9]+)?)/'
valid="^($host)?$component(/$component)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?\$"
grep -Ev "$valid" "$work/all" | sed 's/^/list_img.sh: skipped, not an image reference: /' >&2 || true
{
  echo "# images in use in ${env_name}: written by list_img.sh (kubectl ${kubectl_args[*]})"
  grep -E "$valid" "$work/all" || true
} >"$work/list"
mv "$work/list" "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
echo "$out"

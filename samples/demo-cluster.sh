#!/usr/bin/env bash
# The orchestration demo: the course's Kubernetes stories, driven by the real kubectl against `containers cluster up`
# (a control plane and 3 nodes in one process; no kubelet, no container daemon). The course's real stack runs:
# postgres:15 and the nginx and Node/Express images of samples/CourseApp, on base images made from Debian's packages;
# samples/CourseApp/k8s holds ordinary manifests: a ConfigMap and a Secret, Postgres on a persistent volume claim, the
# backend (3 replicas), and the frontend on NodePort 30100. Then: scale 3 to 5, a rolling update and
# its undo (both ReplicaSets shown), a node drained and uncordoned, the events. Installs what it needs on a fresh
# Debian 12 machine (kubectl must be there). DEMO_SECONDS=N ends by itself after N seconds; otherwise Ctrl+C. At the
# end the objects are deleted, the cluster is stopped and its pod network removed.
command -v kubectl >/dev/null || { echo "kubectl is needed (https://kubernetes.io/docs/tasks/tools/)" >&2; exit 1; }
. "$(dirname "$0")/demo-common.sh"
port=${KUBE_PORT:-6443}
manifests="$here/samples/CourseApp/k8s"
k() { echo "\$ kubectl $*"; kubectl --kubeconfig "$root/kubeconfig" "$@"; }
started=0
demo_cleanup() {
  echo; echo "== deleting the objects, stopping the cluster"
  if [ "$started" = 1 ]; then
    kubectl --kubeconfig "$root/kubeconfig" delete -f "$manifests" --ignore-not-found --wait --timeout=60s || true
    # the pods go after their owners (the garbage collector deletes them, each with its grace period)
    kubectl --kubeconfig "$root/kubeconfig" wait --for=delete pods --all --timeout=60s >/dev/null 2>&1 || true
    c cluster down || true
    c network rm k8s-pods >/dev/null 2>&1 || true
  fi
}

publish_cli
docker_io_mirror

echo "== building the course's images"
for s in backend frontend; do
  c build -q -t "localhost/course-app-$s:1" "$here/samples/CourseApp/$s" >/dev/null
  echo "localhost/course-app-$s:1"
done
c tag localhost/course-app-backend:1 localhost/course-app-backend:2   # the "new version" of the rolling update

echo "== a cluster of 3 nodes"
c cluster up --nodes 3 --port "$port" -d
started=1
k get nodes

echo; echo "== the course's manifests"
k apply -f "$manifests"
for d in database backend frontend; do k rollout status "deploy/$d" --timeout=120s; done
k get pods,svc -o wide
front="http://127.0.0.1:30100"
curl -sf -X POST -H 'Content-Type: application/json' -d '{"item": "first order"}' "$front/api/orders" >/dev/null
echo "orders through the NodePort: $(curl -sf "$front/api/orders")"

echo; echo "== scaling the backend from 3 to 5"
k scale deploy/backend --replicas=5
k rollout status deploy/backend --timeout=120s
k get pods -l app=backend -o wide

echo; echo "== a rolling update of the backend, its history, and back"
k set image deploy/backend backend=localhost/course-app-backend:2
k rollout status deploy/backend --timeout=120s
k rollout history deploy/backend
k get rs -l app=backend
k rollout undo deploy/backend
k rollout status deploy/backend --timeout=120s
k get rs -l app=backend -o wide

echo; echo "== draining node-1: its pods are evicted and come back on the other nodes"
k drain node-1 --ignore-daemonsets --delete-emptydir-data --timeout=120s
for d in database backend frontend; do k rollout status "deploy/$d" --timeout=120s; done
k get pods -o wide
k uncordon node-1
echo "orders after the drain (kept on the database's volume): $(curl -sf "$front/api/orders")"

echo; echo "== what happened, as events"
k get events --sort-by=.lastTimestamp | tail -n 15

cat <<MSG

  frontend   $front/   (NodePort 30100 on this machine; it calls the backend by its Service name)
  kubectl    export KUBECONFIG=$root/kubeconfig

== watching the pods (Ctrl+C deletes everything and stops the cluster)
MSG
if [ -n "${DEMO_SECONDS:-}" ]; then
  timeout "$DEMO_SECONDS" kubectl --kubeconfig "$root/kubeconfig" get pods -w || true
else
  kubectl --kubeconfig "$root/kubeconfig" get pods -w || true
fi

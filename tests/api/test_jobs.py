"""``/api/jobs``: status and progress of long work."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tagscope.service import Workspace


def test_job_reports_status_and_progress(client: TestClient, api_workspace: Workspace) -> None:
    ds = api_workspace.dataset("coco")

    def work(report):
        report(3, 4)
        return {"answer": 42}

    job = api_workspace.runner.run("test", ds.id, {"x": 1}, work)
    r = client.get(f"/api/jobs/{job.id}")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "done"
    assert body["result"] == {"answer": 42}
    assert body["n_done"] == 3 and body["n_total"] == 4 and body["progress"] == 0.75
    listed = client.get("/api/jobs", params={"dataset": "coco"}).json()
    assert job.id in [j["id"] for j in listed]


def test_unknown_job_is_404(client: TestClient) -> None:
    r = client.get("/api/jobs/999999")
    assert r.status_code == 404
    assert r.json() == {"status": 404, "message": "no job with id 999999", "field": None}


def test_job_id_must_be_an_integer(client: TestClient) -> None:
    r = client.get("/api/jobs/latest")
    assert r.status_code == 422
    assert r.json()["field"] == "job_id"


def test_jobs_of_unknown_dataset_is_404(client: TestClient) -> None:
    assert client.get("/api/jobs", params={"dataset": "nope"}).status_code == 404

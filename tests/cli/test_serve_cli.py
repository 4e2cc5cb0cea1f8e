"""`prismarec serve`: what it hands to uvicorn."""

import uvicorn
from typer.testing import CliRunner

from prismarec.cli.main import app

runner = CliRunner()


def test_forwarded_headers_are_trusted_only_from_a_named_proxy(monkeypatch):
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda web, **kwargs: calls.append(kwargs))
    assert runner.invoke(app, ["serve", "--backbone", "efficientnet-lite0"]).exit_code == 0
    assert calls[-1]["proxy_headers"] is False  # X-Forwarded-For from localhost cannot dodge the sign-in limit
    res = runner.invoke(app, ["serve", "--backbone", "efficientnet-lite0", "--trust-proxy", "10.0.0.2"])
    assert res.exit_code == 0, res.output
    assert calls[-1]["proxy_headers"] is True and calls[-1]["forwarded_allow_ips"] == "10.0.0.2"

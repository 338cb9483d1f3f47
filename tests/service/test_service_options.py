"""``cmvrx serve --no-dialysis-unless-recorded``: the deployment's opt-in reaches the hooks
(order-sign then reads a record with no dialysis recorded as no dialysis); off by
default (the card asks for the dialysis status). It travels to worker processes."""

from __future__ import annotations

import pytest
from svc_support import PUBLIC_URL, SigningKey, make_app, order_sign_call, sandbox_token
from typer.testing import CliRunner

from cmvrx.service.settings import ENV_NO_DIALYSIS, Settings, from_env

PATH = "/cds-services/cmvrx-order-sign"


@pytest.mark.parametrize("opt_in", [False, True])
def test_the_opt_in_reaches_order_sign(
    opt_in: bool, db_url: str, keys: dict[str, SigningKey]
) -> None:
    token = sandbox_token(keys["sandbox"], PUBLIC_URL + PATH)
    with make_app(db_url, keys, no_dialysis_unless_recorded=opt_in) as client:
        response = client.post(
            PATH, json=order_sign_call(), headers={"Authorization": f"Bearer {token}"}
        )
    (card,) = response.json()["cards"]
    if opt_in:  # a case is made: the 500 mg dose is corrected
        assert card["suggestions"][0]["actions"][0]["resource"]["id"] == "draft-gcv"
    else:  # no dialysis status recorded: asked for, no dose
        assert "dialysis" in card["detail"] and "suggestions" not in card


def test_the_opt_in_travels_to_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(public_url=PUBLIC_URL, dev_no_auth=True, no_dialysis_unless_recorded=True)
    env = settings.export_env(None)
    assert env[ENV_NO_DIALYSIS] == "1"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert from_env().no_dialysis_unless_recorded
    monkeypatch.delenv(ENV_NO_DIALYSIS)
    assert not from_env().no_dialysis_unless_recorded


def test_serve_documents_the_flag() -> None:
    from cmvrx.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert "--no-dialysis-unless-recorded" in result.output

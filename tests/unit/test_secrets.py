"""The one masking mechanism (daskbench._secrets) and the places that must use it."""

from __future__ import annotations

import shlex
import string
from urllib.parse import quote

import dask
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from daskbench._secrets import (
    is_secret_key,
    mask_argv,
    mask_command,
    mask_config,
    mask_text,
    mask_url,
    url_secrets,
)
from daskbench.environment import (
    collect_environment,
    internal_dask_config,
    non_default_dask_config,
)
from daskbench.errors import ConfigError, StoreError
from daskbench.store import open_store


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:secret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p@ss@h:5432/db", "postgresql://u:***@h:5432/db"),  # '@' in it
        ("postgresql://u:a/b:c@h/db", "postgresql://u:***@h/db"),  # '/' and ':' in it
        ("postgresql://h/db?user=u&password=pw", "postgresql://h/db?user=u&password=***"),
        (
            "postgresql://h/db?sslmode=require&access_token=t",
            "postgresql://h/db?sslmode=require&access_token=***",
        ),
        ("https://ghp_aaaaaaaaaaaaaaaaaaaaaaaaa@github.com/o/r", "https://***@github.com/o/r"),
        ("https://oauth2:glpat-x@gitlab.com/o/r", "https://oauth2:***@gitlab.com/o/r"),
        ("ssh://git@github.com/o/r", "ssh://git@github.com/o/r"),  # a user is no secret
        ("sqlite:////tmp/a@b.db", "sqlite:////tmp/a@b.db"),
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
        ("memory://", "memory://"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


_PASSWORD = st.text(
    alphabet=string.ascii_letters + string.digits + "@:/?#%!$&'()*+,;=-._~", min_size=6
)


@given(password=_PASSWORD)
def test_no_password_survives_masking(password: str) -> None:
    for pw in (password, quote(password, safe="")):
        url = f"postgresql://bench:{pw}@db.example:5432/hist"
        assert mask_url(url) == "postgresql://bench:***@db.example:5432/hist"
        assert pw in url_secrets(url)
        text = mask_text(f"cannot open {url!r}: refused", url_secrets(url))
        assume(pw not in "cannot open postgresql://bench:***@db.example:5432/hist: refused")
        assert pw not in text
        assert "bench:***@db.example:5432/hist" in text


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("coiled.token", True),
        ("DASK_COILED__TOKEN", True),
        ("distributed.comm.tls.client.key", True),
        ("aws_secret_access_key", True),
        ("--api-key", True),
        ("PGPASSWORD", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("auth", True),
        ("--keyword", False),
        ("--author", False),
        ("dataframe.shuffle.method", False),
        ("distributed.deploy.lost-worker-timeout", False),
    ],
)
def test_secret_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_mask_argv_and_command() -> None:
    argv = [
        "daskbench",
        "run",
        "--db",
        "postgresql://u:pw1234@h/db",
        "--db=postgresql://u:pw1234@h/db?password=qq1234",
        "--token",
        "tok-1234",
        "--api-key=key-1234",
        "DASK_COILED__TOKEN=env-1234",
        "-k",
        "token",  # a -k expression naming a test is not a secret
        "postgresql://u:with space@h/db",
    ]
    masked = mask_argv(argv)
    joined = " ".join(masked)
    for planted in ("pw1234", "qq1234", "tok-1234", "key-1234", "env-1234", "with space"):
        assert planted not in joined
    assert masked[9:11] == ["-k", "token"]
    assert shlex.split(mask_command(argv)) == masked
    assert "known-secret" not in mask_command(["x", "--label", "known-secret"], ["known-secret"])


def test_mask_config_any_depth() -> None:
    config = {
        "coiled.token": "t-1",
        "coiled": {"token": "t-2", "region": "us-east-1"},
        "distributed": {"comm": {"tls": {"client": {"key": "/k.pem"}}}},
        "empty-token": None,
        "address": "postgresql://u:pw-3@h/db",
        "tokens": ["t-4", "t-5"],
    }
    masked = mask_config(config)
    assert masked == {
        "coiled.token": "***",
        "coiled": {"token": "***", "region": "us-east-1"},
        "distributed": {"comm": {"tls": {"client": {"key": "***"}}}},
        "empty-token": None,
        "address": "postgresql://u:***@h/db",
        "tokens": ["***", "***"],
    }
    assert config["coiled.token"] == "t-1"  # a copy


def test_fingerprint_masks_tokens_and_leaves_out_internal_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from daskbench.cluster import _survive_frequent_restarts

    _survive_frequent_restarts()  # what every local or factory run does
    assert "distributed.deploy.lost-worker-timeout" in internal_dask_config()
    monkeypatch.setenv("DASK_COILED__TOKEN", "planted-secret-123")
    dask.config.refresh()
    try:
        config = non_default_dask_config()
        env = collect_environment(extra={"data_dir": "s3://AKIA:planted-s3@bucket/x"})
    finally:
        monkeypatch.delenv("DASK_COILED__TOKEN")
        dask.config.refresh()
        _survive_frequent_restarts()  # refresh() dropped it; later tests' clusters need it
    assert config["coiled.token"] == "***"
    assert "distributed.deploy.lost-worker-timeout" not in config
    assert "planted" not in repr(env.to_dict())
    # A user's own value for a setting daskbench also makes is theirs, and shown.
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "1s"}):
        assert non_default_dask_config()["distributed.deploy.lost-worker-timeout"] == "1s"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pl@nted-1@127.0.0.1:1/db?connect_timeout=1",
        "postgresql://u@127.0.0.1:1/db?password=planted-2&connect_timeout=1",
    ],
)
def test_store_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert "planted" not in str(info.value)
    assert "pl@nted" not in str(info.value)


def test_bad_store_url_errors_are_masked() -> None:
    with pytest.raises(ConfigError) as info:
        open_store("mysql://u:planted-3@h/db?token=planted-4")
    assert "planted" not in str(info.value)

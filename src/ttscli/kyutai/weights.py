"""Find Kyutai TTS model and voice files: local directory, Hugging Face cache, then the hub.

Policy, and why:

* **Cache first, network last.**  When every file is already in the HF cache we never touch the
  network, so a cached model starts with no HEAD requests and works unchanged offline.
* **Probe before downloading.**  ``hf_hub_download`` retries connection errors with back-off
  (about 23 s before it gives up on an unreachable hub).  A single ``repo_info`` call with a short
  timeout tells us first whether the hub answers; if not, we fail at once with one line naming the
  missing files and the command that fetches them.
* **Environment read at call time.**  ``huggingface_hub`` freezes ``HF_HOME``/``HF_HUB_OFFLINE``
  when it is imported; we re-read them for every resolution and pass ``cache_dir`` explicitly,
  so a caller (or a test) that sets them later is still obeyed.

``CheckpointInfo.from_hf_repo`` (moshi's own loader) still parses ``config.json``; we hand it
the paths we resolved so that it does no network I/O of its own.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ttscli.util.errors import UserError

if TYPE_CHECKING:
    from moshi.models.loaders import CheckpointInfo

DEFAULT_TTS_REPO = "kyutai/tts-1.6b-en_fr"  # == moshi.models.tts.DEFAULT_DSM_TTS_REPO
DEFAULT_VOICE_REPO = "kyutai/tts-voices"  # == moshi.models.tts.DEFAULT_DSM_TTS_VOICE_REPO

DEFAULT_VOICE = "voice-donations/robert.wav"
"""A CC0 voice (Kyutai's voice-donation project): usable commercially, no attribution needed.

Its embedding for tts-1.6b-en_fr (``voice-donations/robert.wav.1e68beda@240.safetensors``,
256 136 bytes) is recorded in public inspections of the voice repository.  The popular default of
Kyutai's own scripts, ``expresso/ex03-ex01_happy_001_channel1_334s.wav``, is CC-BY-NC, which a
default must not silently impose on users.
"""

# Names config.json gives for the default repo: lets us say which files are missing even when
# config.json itself is absent.
_KNOWN_FILES = {
    DEFAULT_TTS_REPO: (
        "config.json",
        "dsm_tts_1e68beda@240.safetensors",
        "tokenizer-e351c8d8-checkpoint125.safetensors",
        "tokenizer_spm_8k_en_fr_audio.model",
    ),
}
_DEFAULT_PROBE_TIMEOUT_S = 5.0
_TRUE = {"1", "ON", "YES", "TRUE"}

T = TypeVar("T")


@dataclass(frozen=True)
class HubSettings:
    """The Hugging Face settings in force right now (environment first, then hub defaults)."""

    cache_dir: Path
    offline: bool
    endpoint: str
    timeout_s: float

    @classmethod
    def from_env(cls) -> HubSettings:
        from huggingface_hub import constants

        env = os.environ
        if env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE"):
            cache = env.get("HF_HUB_CACHE") or env["HUGGINGFACE_HUB_CACHE"]
        elif env.get("HF_HOME"):
            cache = os.path.join(env["HF_HOME"], "hub")
        else:
            cache = constants.HF_HUB_CACHE
        if "HF_HUB_OFFLINE" in env:
            offline = env["HF_HUB_OFFLINE"].upper() in _TRUE
        else:
            offline = bool(constants.HF_HUB_OFFLINE)
        try:
            timeout = float(env.get("HF_HUB_ETAG_TIMEOUT", _DEFAULT_PROBE_TIMEOUT_S))
        except ValueError:
            timeout = _DEFAULT_PROBE_TIMEOUT_S
        endpoint = env.get("HF_ENDPOINT") or constants.ENDPOINT
        return cls(Path(os.path.expanduser(os.path.expandvars(cache))), offline, endpoint, timeout)


def call_with_timeout(fn: Callable[[], T], timeout_s: float) -> T:
    """Run ``fn`` in a daemon thread and give up after ``timeout_s``.

    Some ``HfApi`` calls (``list_repo_files``) take no timeout; a black-holed network would
    otherwise hang the CLI for minutes.  The abandoned thread dies with the process.
    """
    box: dict[str, object] = {}

    def _run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=_run, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


class HubRepo:
    """One repository seen through the cache-first policy above."""

    def __init__(self, repo_id: str, settings: HubSettings | None = None) -> None:
        self.repo_id = repo_id
        self.settings = settings or HubSettings.from_env()
        self._problem: str | bool | None = False  # False = not probed yet

    def cached(self, filename: str) -> Path | None:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(
            self.repo_id, filename, cache_dir=str(self.settings.cache_dir)
        )
        if isinstance(found, str) and os.path.isfile(found):
            return Path(found)
        return None

    def problem(self) -> str | None:
        """Why the hub cannot serve this repo right now, or None if it can (probed once)."""
        if self._problem is False:
            self._problem = self._probe()
        return self._problem  # type: ignore[return-value]

    def _probe(self) -> str | None:
        if self.settings.offline:
            return "offline mode is on (HF_HUB_OFFLINE=1)"
        from huggingface_hub import HfApi
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            RepositoryNotFoundError,
        )

        api = HfApi(endpoint=self.settings.endpoint)
        try:
            api.repo_info(self.repo_id, timeout=self.settings.timeout_s)
        except GatedRepoError:
            return "the repository is gated (accept its terms on the hub, then `hf auth login`)"
        except RepositoryNotFoundError:
            return f"the hub has no repository named {self.repo_id}"
        except HfHubHTTPError as exc:
            status = getattr(exc.response, "status_code", "?")
            return f"the hub answered HTTP {status}"
        except (OSError, TimeoutError, ValueError) as exc:
            # requests' ConnectionError/Timeout are OSErrors; keep the reason short.
            return f"the hub at {self.settings.endpoint} is unreachable ({type(exc).__name__})"
        return None

    def download(self, filename: str) -> Path:
        """Fetch one file (the caller has checked ``problem()`` is None)."""
        from huggingface_hub import hf_hub_download

        return Path(
            hf_hub_download(
                self.repo_id,
                filename,
                cache_dir=str(self.settings.cache_dir),
                endpoint=self.settings.endpoint,
                etag_timeout=self.settings.timeout_s,
            )
        )


def _download_hint(repo_id: str, files: list[str] | None = None) -> str:
    names = "".join(" " + f for f in files or [])
    return f"`hf download {repo_id}{names}` (or `huggingface-cli download` with the same arguments)"


def _config_file_names(config_path: Path) -> list[str]:
    """The files config.json names (what ``CheckpointInfo.from_hf_repo`` will load)."""
    from moshi.models import loaders

    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {config_path}: {exc}") from exc
    if not isinstance(raw, dict) or "tts_config" not in raw or "model_id" not in raw:
        raise UserError(
            f"{config_path} is not a Kyutai TTS config (no tts_config/model_id); "
            "point --hf-repo or --model-dir at a Kyutai TTS model such as kyutai/tts-1.6b-en_fr"
        )
    names = [
        raw.get("moshi_name", loaders.MOSHI_NAME),
        raw.get("mimi_name", loaders.MIMI_NAME),
        raw.get("tokenizer_name", loaders.TEXT_TOKENIZER_NAME),
    ]
    if raw.get("mimi_config_name"):
        names.append(raw["mimi_config_name"])
    if raw.get("lora_name"):
        names.append(raw["lora_name"])
    return names


@dataclass(frozen=True)
class ResolvedCheckpoint:
    """Everything needed to build the model, before any weights are read."""

    info: CheckpointInfo
    source: str  # "repo_id" or a directory, for messages
    voice_suffix: str  # ".<sig>@<epoch>.safetensors", how voice embeddings are named


def _to_checkpoint(source: str, files: dict[str, Path], names: list[str]) -> ResolvedCheckpoint:
    """Let moshi's loader parse config.json, with every path already local."""
    from moshi.models.loaders import CheckpointInfo

    raw = json.loads(files["config.json"].read_text(encoding="utf-8"))
    mimi_config = raw.get("mimi_config_name")
    info = CheckpointInfo.from_hf_repo(
        source,
        moshi_weights=files[names[0]],
        mimi_weights=files[names[1]],
        tokenizer=files[names[2]],
        config_path=files["config.json"],
        mimi_config_path=files[mimi_config] if mimi_config else None,
        lora_weights=files[raw["lora_name"]] if raw.get("lora_name") else None,
    )
    model_id = raw["model_id"]
    suffix = f".{model_id['sig']}@{model_id['epoch']}.safetensors"
    return ResolvedCheckpoint(info=info, source=source, voice_suffix=suffix)


def _from_model_dir(model_dir: Path) -> ResolvedCheckpoint:
    model_dir = model_dir.expanduser()
    if not model_dir.is_dir():
        raise UserError(f"--model-dir {model_dir} is not a directory")
    config = model_dir / "config.json"
    names = _config_file_names(config) if config.is_file() else []
    missing = [n for n in ["config.json", *names] if not (model_dir / n).is_file()]
    if missing:
        raise UserError(
            f"--model-dir {model_dir} is missing {', '.join(missing)}; fill it with "
            f"`hf download {DEFAULT_TTS_REPO} --local-dir {model_dir}` (or the repo it came from)"
        )
    files = {n: model_dir / n for n in ["config.json", *names]}
    return _to_checkpoint(str(model_dir), files, names)


def _from_hub(repo_id: str) -> ResolvedCheckpoint:
    hub = HubRepo(repo_id)
    files: dict[str, Path] = {}
    config = hub.cached("config.json")
    if config is None and hub.problem() is None:
        config = _download_or_fail(hub, "config.json")
    if config is None:
        expected = list(_KNOWN_FILES.get(repo_id, ("config.json",)))
        missing = [n for n in expected if hub.cached(n) is None]
        what = (
            ", ".join(missing)
            if repo_id in _KNOWN_FILES
            else "config.json (and the files it names)"
        )
        raise UserError(_missing_message(hub, what, _download_hint(repo_id)))
    files["config.json"] = config
    names = _config_file_names(config)
    missing = [n for n in names if hub.cached(n) is None]
    if missing and hub.problem() is not None:
        raise UserError(_missing_message(hub, ", ".join(missing), _download_hint(repo_id)))
    for name in names:
        files[name] = hub.cached(name) or _download_or_fail(hub, name)
    return _to_checkpoint(repo_id, files, names)


def _missing_message(hub: HubRepo, what: str, hint: str) -> str:
    where = "once online (unset HF_HUB_OFFLINE)" if hub.settings.offline else "when the hub answers"
    return (
        f"Kyutai TTS files missing: {hub.repo_id} lacks {what} in the Hugging Face cache "
        f"({hub.settings.cache_dir}) and {hub.problem()}; get them with {hint} {where}, "
        "or pass --model-dir DIR"
    )


def _download_or_fail(hub: HubRepo, filename: str) -> Path:
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    try:
        return hub.download(filename)
    except EntryNotFoundError as exc:
        raise UserError(f"{hub.repo_id} has no file {filename} on the hub") from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise UserError(
            f"downloading {filename} from {hub.repo_id} failed ({type(exc).__name__}); "
            f"retry, or fetch it with {_download_hint(hub.repo_id, [filename])}"
        ) from exc


def resolve_checkpoint(
    hf_repo: str | None = None, model_dir: Path | None = None
) -> ResolvedCheckpoint:
    """Locate config, LM, Mimi and tokenizer files without loading any weights.

    ``model_dir`` wins over ``hf_repo``.  Raises ``UserError`` (one line) when files are missing
    and cannot be fetched; returns in milliseconds in that case whenever the hub is offline or
    refuses connections, and within ``HF_HUB_ETAG_TIMEOUT`` (default 5 s) when it is silent.
    """
    if model_dir is not None:
        return _from_model_dir(Path(model_dir))
    return _from_hub(hf_repo or DEFAULT_TTS_REPO)


def repo_path(cached: Path) -> str:
    """A cached file's path inside its repository (what ``hf download`` takes): the part
    after the cache's ``snapshots/REVISION/``; a file elsewhere keeps its own name."""
    parts = cached.parts
    if "snapshots" in parts:
        at = len(parts) - 1 - parts[::-1].index("snapshots")
        if at + 2 < len(parts):
            return "/".join(parts[at + 2 :])
    return cached.name


def _voice_candidates(name: str, suffix: str) -> list[str]:
    """Repo paths a user's voice name may mean, most literal first."""
    if name.endswith(".safetensors"):
        return [name]
    candidates = [name + suffix]
    if not name.endswith(".wav"):
        candidates.append(name + ".wav" + suffix)
    return candidates


def _unknown_voice(name: str, repo_id: str, why: str) -> UserError:
    return UserError(
        f"unknown voice '{name}' ({why} in {repo_id}); run `ttscli voices` to list voices, "
        "or pass a local .safetensors embedding"
    )


def resolve_voice(voice: str | None, voice_repo: str | None, voice_suffix: str) -> Path:
    """Map a voice NAME to a local embedding file, fetching it if needed and possible.

    NAME is a path in the voice repo (``vctk/p228_023.wav``; ``.wav`` may be omitted), an
    ``hf://ORG/REPO/PATH`` reference, or a local ``.safetensors`` file.
    """
    name = voice or DEFAULT_VOICE
    repo_id = voice_repo or DEFAULT_VOICE_REPO
    if name.startswith("hf://"):
        parts = name.removeprefix("hf://").split("/")
        if len(parts) < 3:
            raise UserError(f"voice '{name}' should look like hf://ORG/REPO/PATH")
        repo_id, name = "/".join(parts[:2]), "/".join(parts[2:])
    elif name.endswith(".safetensors"):
        local = Path(name).expanduser()
        if local.is_file():
            return local
        if local.is_absolute() or name.startswith((".", "~")):
            raise UserError(f"voice embedding {local} does not exist")
    hub = HubRepo(repo_id)
    candidates = _voice_candidates(name, voice_suffix)
    for candidate in candidates:
        found = hub.cached(candidate)
        if found is not None:
            return found
    problem = hub.problem()
    if problem is not None:
        raise UserError(
            f"voice '{name}' is not in the local cache of {repo_id} and {problem}; "
            f"check the name with `ttscli voices`, or fetch it with "
            f"{_download_hint(repo_id, candidates[-1:])}"
        )
    from huggingface_hub.errors import EntryNotFoundError

    for candidate in candidates:
        try:
            return hub.download(candidate)
        except EntryNotFoundError:
            continue
        except OSError as exc:
            raise UserError(f"downloading voice '{name}' from {repo_id} failed ({exc})") from exc
    raise _unknown_voice(name, repo_id, f"no {candidates[0]}")

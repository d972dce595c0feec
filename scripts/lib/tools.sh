# The project-local tools, shared by scripts/test and scripts/build-lambdas
# (sourced, not run; needs ROOT set to the repository).
#
#   .venv      moto[server], cargo-lambda, cfn-lint, aws-sam-translator,
#              aiosmtpd, selenium
#   .venv-sam  aws-sam-cli, alone: it pins boto3 (and cfn-lint) itself,
#              against moto's
#   .cache/npm axe-core (the console's accessibility check), from npm
#   Debian     chromium and chromium-driver (the console's browser), with
#              apt-get when absent (as root, or through sudo -n)
#
# Each is installed once and re-used while its pins (and the Python version)
# hold; a stamp file in the environment records what it was installed with.
# `run_sam ARGS...` runs the pinned SAM CLI with a home of its own (telemetry
# off, the weekly "newer version?" request to PyPI marked as done until 2100),
# dummy credentials and the instance metadata lookup off, so that nothing it
# runs here can reach a real AWS account.

PY_PINS=(
  "moto[server]==5.2.5"
  "cargo-lambda==1.9.2"
  "cfn-lint==1.58.0"
  "aws-sam-translator==1.115.0"
  "aiosmtpd==1.4.6"
  "selenium==4.38.0"
)
VENV="$ROOT/.venv"
SAM_PINS=(
  "aws-sam-cli==1.170.0"
)
SAM_VENV="$ROOT/.venv-sam"
SAM_HOME="$SAM_VENV/home"
CARGO_LAMBDA="$VENV/bin/cargo-lambda"

require_python() {
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "python3 3.10 or newer is needed (found $(python3 --version 2>&1))" >&2
    exit 1
  fi
}

# ensure_env DIR PIN...: the virtual environment DIR with exactly these pins.
ensure_env() {
  local dir="$1"
  shift
  local stamp="$dir/.helpdesk-pins"
  local want
  want="$(python3 --version 2>&1) $*"
  if [[ -x "$dir/bin/python" ]] && [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    echo "up to date (stamp $stamp)"
    return
  fi
  if [[ ! -x "$dir/bin/python" ]] || ! "$dir/bin/python" -c '' 2>/dev/null; then
    rm -rf "$dir"
    python3 -m venv "$dir"
  fi
  "$dir/bin/python" -m pip install --disable-pip-version-check --no-cache-dir --quiet "$@"
  printf '%s' "$want" >"$stamp"
  echo "installed into ${dir#"$ROOT"/}"
}

ensure_tools() {
  require_python
  ensure_env "$VENV" "${PY_PINS[@]}"
}

ensure_sam() {
  require_python
  ensure_env "$SAM_VENV" "${SAM_PINS[@]}"
  if [[ ! -f "$SAM_HOME/.aws-sam/metadata.json" ]]; then
    mkdir -p "$SAM_HOME/.aws-sam"
    printf '{"telemetryEnabled": false, "lastVersionCheck": 4102444800.0}\n' >"$SAM_HOME/.aws-sam/metadata.json"
  fi
}

run_sam() {
  env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL \
    HOME="$SAM_HOME" SAM_CLI_TELEMETRY=0 \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
    "$SAM_VENV/bin/sam" "$@"
}

# The browser the console check drives: Debian's Chromium and its
# ChromeDriver (same version), installed when either is absent.
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
ensure_browser() {
  if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]; then
    echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo present)"
    return
  fi
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    if ! sudo -n true 2>/dev/null; then
      echo "the console check needs Debian's chromium and chromium-driver: run 'apt-get install -y chromium chromium-driver' as root once" >&2
      exit 1
    fi
    sudo=(sudo -n)
  fi
  echo "installing chromium and chromium-driver with apt-get (about 600 MB)"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
    || { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }
  "$CHROMIUM" --version
}

# axe-core, pinned, in a project-local npm prefix (no package.json in the
# repository; nothing global).
AXE_VERSION=4.11.0
AXE_PREFIX="$ROOT/.cache/npm"
AXE_JS="$AXE_PREFIX/node_modules/axe-core/axe.min.js"
ensure_axe() {
  local installed
  installed="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$AXE_PREFIX/node_modules/axe-core/package.json" 2>/dev/null || true)"
  if [[ "$installed" == "$AXE_VERSION" && -f "$AXE_JS" ]]; then
    echo "axe-core $AXE_VERSION: up to date"
    return
  fi
  if ! command -v npm >/dev/null; then
    echo "the console check needs npm (Node.js) to fetch axe-core" >&2
    exit 1
  fi
  mkdir -p "$AXE_PREFIX"
  npm install --prefix "$AXE_PREFIX" --no-audit --no-fund --no-save --silent "axe-core@$AXE_VERSION"
  echo "axe-core $AXE_VERSION installed into ${AXE_PREFIX#"$ROOT"/}"
}

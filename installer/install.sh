#!/usr/bin/env bash
# Install or upgrade wacc on a bare Debian/Ubuntu machine, as a systemd service.
# Safe to run again: every step checks what is already there. See --help.
set -euo pipefail

# These paths are also written in systemd/wacc.service and wacc@.service; change
# them together.
readonly PREFIX=/opt/wacc
readonly DATA_DIR=/var/lib/wacc
readonly CONF_DIR=/etc/wacc
readonly SERVICE_USER=wacc
readonly UNIT_DEST=/etc/systemd/system
readonly MIN_PYTHON=3.11
readonly KNOWN_ROLES="web worker scheduler wa"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UNIT_SRC="${SCRIPT_DIR}/../systemd"
PYTHON=python3
ROLES=""
START=1
SKIP_INIT=0
SOURCE=""

usage() {
    cat <<EOF
Usage: sudo $(basename "$0") [options] WHEEL_OR_SOURCE_DIR

Installs wacc from a built wheel (wacc-*.whl) or a source checkout and runs it as
the systemd service "wacc". Run it again with a newer wheel to upgrade.

What it does (each step is skipped when already done):
  - installs python3 and python3-venv with apt-get if they are missing
  - creates the system user "${SERVICE_USER}" (no login shell, home ${DATA_DIR})
  - creates the virtualenv ${PREFIX} and pip-installs wacc into it (root-owned)
  - creates ${DATA_DIR} (mode 0750) and ${CONF_DIR} (for the optional wacc.env)
  - runs "wacc init --non-interactive" as ${SERVICE_USER} with WACC_DATA_DIR=${DATA_DIR}
  - installs wacc.service and wacc@.service into ${UNIT_DEST}, enables and (re)starts

Options:
  --roles LIST   comma-separated roles for this machine (${KNOWN_ROLES// /, }):
                 enables wacc@ROLE units instead of the all-in-one wacc.service
  --python PATH  Python ${MIN_PYTHON}+ interpreter for the virtualenv (default: python3)
  --unit-dir DIR where wacc.service and wacc@.service are (default: ../systemd next
                 to this script)
  --no-start     enable the service but do not (re)start it
  --skip-init    do not run "wacc init"
  -h, --help     show this help

A source directory is built on this machine, which needs npm for the browser files
(or WACC_SKIP_ASSETS=1 for a build without them); a wheel needs neither.
Settings such as WACC_DATABASE_URL go in ${CONF_DIR}/wacc.env (KEY=value lines).
EOF
}

log() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            -h | --help)
                usage
                exit 0
                ;;
            --roles)
                [ $# -ge 2 ] || die "--roles needs a value"
                ROLES="${2//,/ }"
                shift 2
                ;;
            --roles=*)
                ROLES="${1#*=}"
                ROLES="${ROLES//,/ }"
                shift
                ;;
            --python)
                [ $# -ge 2 ] || die "--python needs a value"
                PYTHON="$2"
                shift 2
                ;;
            --unit-dir)
                [ $# -ge 2 ] || die "--unit-dir needs a value"
                UNIT_SRC="$2"
                shift 2
                ;;
            --no-start)
                START=0
                shift
                ;;
            --skip-init)
                SKIP_INIT=1
                shift
                ;;
            --)
                shift
                break
                ;;
            -*) die "unknown option: $1 (see --help)" ;;
            *)
                [ -z "$SOURCE" ] || die "only one wheel or source directory, got '$SOURCE' and '$1'"
                SOURCE="$1"
                shift
                ;;
        esac
    done
    if [ $# -gt 0 ]; then
        if [ -n "$SOURCE" ] || [ $# -gt 1 ]; then
            die "only one wheel or source directory"
        fi
        SOURCE="$1"
    fi
    [ -n "$SOURCE" ] || {
        usage >&2
        exit 2
    }

    # Only a local path: a bare name would make pip look the name up in a package
    # index, which may hold an unrelated project called "wacc".
    if [ -f "$SOURCE" ]; then
        case "$SOURCE" in
            *.whl) ;;
            *) die "$SOURCE is not a wheel (*.whl)" ;;
        esac
    elif [ -d "$SOURCE" ]; then
        [ -f "$SOURCE/pyproject.toml" ] || die "$SOURCE has no pyproject.toml: not a wacc source tree"
    else
        die "$SOURCE: no such wheel or directory"
    fi
    SOURCE="$(cd "$(dirname "$SOURCE")" && pwd)/$(basename "$SOURCE")"

    local role
    for role in $ROLES; do
        case " $KNOWN_ROLES " in
            *" $role "*) ;;
            *) die "unknown role '$role' (known: $KNOWN_ROLES)" ;;
        esac
    done

    if [ ! -f "$UNIT_SRC/wacc.service" ] || [ ! -f "$UNIT_SRC/wacc@.service" ]; then
        die "unit files not found in $UNIT_SRC (use --unit-dir)"
    fi
}

have_systemd() {
    # Present only when systemd is PID 1 (not in most containers or chroots).
    [ -d /run/systemd/system ]
}

ensure_python() {
    if command -v "$PYTHON" >/dev/null 2>&1 \
        && "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        :
    elif [ "$PYTHON" = python3 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing python3 and python3-venv"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            python3 python3-venv
    else
        die "$PYTHON with the venv module is required (Debian/Ubuntu: apt-get install python3-venv)"
    fi
    "$PYTHON" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '${MIN_PYTHON}'.split('.'))))" \
        || die "wacc needs Python ${MIN_PYTHON} or newer; $("$PYTHON" --version 2>&1) found (use --python)"
}

ensure_user() {
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        return
    fi
    log "creating system user $SERVICE_USER"
    # Its home is the data directory: Chromium (WhatsApp Web engine) and Playwright keep
    # their profiles and caches under $HOME, the only place the service may write.
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "wacc service" "$SERVICE_USER"
}

ensure_dirs() {
    install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR"
    # Root-owned, readable by the service: it may hold database passwords.
    install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
}

install_wacc() {
    if [ ! -x "$PREFIX/bin/python" ]; then
        log "creating virtualenv $PREFIX"
        "$PYTHON" -m venv "$PREFIX"
    fi
    # The venv links to its base interpreter; one under /root (pyenv, a hand-built
    # Python) is not reachable by the service user, and the service would fail to start.
    if ! runuser -u "$SERVICE_USER" -- "$PREFIX/bin/python" -c pass >/dev/null 2>&1; then
        die "user $SERVICE_USER cannot run $PREFIX/bin/python ($(readlink -f "$PREFIX/bin/python")): remove $PREFIX and run again with --python /usr/bin/python3"
    fi
    if [ -d "$SOURCE" ] && [ "${WACC_SKIP_ASSETS:-}" != 1 ] && ! command -v npm >/dev/null 2>&1; then
        die "building from a source directory needs npm (apt-get install npm), or build a wheel elsewhere and pass it"
    fi
    log "installing wacc from $SOURCE"
    # Root owns the code; the service user can read it but not change it.
    "$PREFIX/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$SOURCE"
    [ -x "$PREFIX/bin/wacc" ] || die "$PREFIX/bin/wacc missing after install"
}

init_wacc() {
    if [ "$SKIP_INIT" = 1 ]; then
        log "skipping wacc init (--skip-init)"
        return
    fi
    log "running wacc init"
    # `wacc init --non-interactive` keeps an existing master key and data, so re-running
    # the installer (an upgrade) only applies what is new, such as migrations.
    (cd "$DATA_DIR" && runuser -u "$SERVICE_USER" -- \
        env WACC_DATA_DIR="$DATA_DIR" "$PREFIX/bin/wacc" init --non-interactive)
}

install_units() {
    log "installing systemd units into $UNIT_DEST"
    install -m 0644 "$UNIT_SRC/wacc.service" "$UNIT_DEST/wacc.service"
    install -m 0644 "$UNIT_SRC/wacc@.service" "$UNIT_DEST/wacc@.service"
    if ! have_systemd; then
        warn "systemd is not running here: units installed but not enabled or started"
        return
    fi
    systemctl daemon-reload

    local units=() role
    if [ -n "$ROLES" ]; then
        for role in $ROLES; do units+=("wacc@${role}.service"); done
        # The all-in-one unit would run every role a second time.
        systemctl disable --now wacc.service >/dev/null 2>&1 || true
    else
        units=(wacc.service)
    fi
    systemctl enable "${units[@]}"
    if [ "$START" = 1 ]; then
        # restart, not start: after an upgrade the running processes hold the old code.
        systemctl restart "${units[@]}"
        log "started: ${units[*]} (logs: journalctl -u '${units[0]}')"
    fi
}

main() {
    parse_args "$@"
    [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...)"
    # Files in the virtualenv must stay readable by the service user whatever root's umask is.
    umask 022
    ensure_python
    ensure_user
    ensure_dirs
    install_wacc
    init_wacc
    install_units
    log "done"
}

main "$@"

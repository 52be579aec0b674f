#!/usr/bin/env bash
# make docs, last: the built site (site/) as a browser renders it. Headless
# Chromium (Debian's chromium, installed if missing) takes a screenshot of the
# home page and of a guide into reports/docs/, and each page's rendered DOM
# must hold the site's navigation, the guide's also a code block.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "docs-check: $*" >&2; exit 1; }
if ! command -v chromium >/dev/null; then
  echo "Installing Debian's chromium, to render the docs site"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi
browse() { chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1000 "$@" 2>/dev/null; }
mkdir -p reports/docs
for page in index.html guides/first-registry/index.html; do
  [[ -f site/$page ]] || fail "site/$page is missing: run mkdocs build first"
  name=$(dirname "$page" | tr / -)
  shot=reports/docs/${name/#./home}.png
  browse --screenshot="$shot" "file://$PWD/site/$page" >/dev/null
  [[ -s $shot ]] || fail "no screenshot of $page"
  dom=$(browse --dump-dom "file://$PWD/site/$page")
  [[ $dom == *'class="md-nav'* ]] || fail "$page has no navigation"
  if [[ $page == guides/* ]]; then
    [[ $dom == *'<pre'*'<code'* ]] || fail "$page has no code block"
  fi
  echo "docs-check: $page renders with its navigation: $shot"
done

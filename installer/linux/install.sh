#!/bin/sh
# Per-user install of the fma-judge folder (no root): the app goes to ~/.local/opt/fma-judge, a menu entry and
# an icon to ~/.local/share, and a `fma-judge` command to ~/.local/bin. Run again to update; `./install.sh --remove`
# takes the app away and keeps the database and settings (~/.local/share/fma-judge, ~/.config/fma-judge).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${XDG_DATA_HOME:-$HOME/.local/share}
opt=$HOME/.local/opt/fma-judge
bin=$HOME/.local/bin
if [ "${1:-}" = "--remove" ]; then
  rm -rf "$opt" "$bin/fma-judge" "$prefix/applications/fma-judge.desktop" "$prefix/icons/hicolor/256x256/apps/fma-judge.png"
  echo "fma-judge removed; your database and settings are kept."
  exit 0
fi
mkdir -p "$opt" "$bin" "$prefix/applications" "$prefix/icons/hicolor/256x256/apps"
rm -rf "$opt.new" && cp -a "$here/fma-judge" "$opt.new" && rm -rf "$opt" && mv "$opt.new" "$opt"
ln -sf "$opt/fma-judge" "$bin/fma-judge"
sed "s#@APPDIR@#$opt#" "$here/fma-judge.desktop" > "$prefix/applications/fma-judge.desktop"
cp "$here/fma-judge.png" "$prefix/icons/hicolor/256x256/apps/fma-judge.png"
echo "fma-judge installed in $opt; check it with:  $bin/fma-judge --self-test"

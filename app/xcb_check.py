"""Before Qt starts on X11: find the system libraries its xcb platform plugin needs but cannot load.

Without them Qt only says "could not load the Qt platform plugin xcb" and aborts; this names them
and the command that installs them. No Qt import here: the check runs before any.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Mapping

# soname, Debian/Ubuntu package, Fedora/RHEL package. The direct system dependencies of PySide6 6.12's
# plugins/platforms/libqxcb.so, lib/libQt6XcbQpa.so.6 and lib/libQt6Gui.so.6 (readelf -d ... | grep NEEDED),
# without those every Linux has (libc, libstdc++, libm, libgcc_s, libz).
XCB_LIBRARIES = (
    ("libxcb.so.1", "libxcb1", "libxcb"),
    ("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    ("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    ("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    ("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    ("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    ("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    ("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    ("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    ("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    ("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    ("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    ("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    ("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    ("libX11.so.6", "libx11-6", "libX11"),
    ("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    ("libGL.so.1", "libgl1", "libglvnd-glx"),
    ("libEGL.so.1", "libegl1", "libglvnd-egl"),
    ("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    ("libfreetype.so.6", "libfreetype6", "freetype"),
    ("libglib-2.0.so.0", "libglib2.0-0", "glib2"),
    ("libgthread-2.0.so.0", "libglib2.0-0", "glib2"),
)

Loader = Callable[[str], object]
"""Loads a shared library by soname and raises OSError when it cannot (ctypes.CDLL)."""


def uses_xcb(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """True when Qt will pick its X11 (xcb) plugin: Linux with an X display, no Wayland, no other platform asked for."""
    if not platform.startswith("linux"):
        return False
    requested = env.get("QT_QPA_PLATFORM", "")
    if requested:
        # A list such as "xcb;wayland" is tried in order; "xcb:option" passes options to the plugin.
        return requested.split(";")[0].split(":")[0] == "xcb"
    # Unset: Qt 6 prefers Wayland in a Wayland session (DISPLAY is set there too, for XWayland).
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def missing_libraries(load: Loader = ctypes.CDLL) -> list[str]:
    """The sonames of XCB_LIBRARIES that `load` cannot load, in table order."""
    missing = []
    for soname, _deb, _rpm in XCB_LIBRARIES:
        try:
            load(soname)
        except OSError:
            missing.append(soname)
    return missing


def install_commands(sonames: list[str]) -> tuple[str, str]:
    """The apt-get and the dnf command that install the packages holding `sonames`."""
    chosen = [row for row in XCB_LIBRARIES if row[0] in sonames]
    debs = dict.fromkeys(deb for _soname, deb, _rpm in chosen)  # ordered, without duplicates
    rpms = dict.fromkeys(rpm for _soname, _deb, rpm in chosen)
    return f"sudo apt-get install {' '.join(debs)}", f"sudo dnf install {' '.join(rpms)}"


def xcb_problem(env: Mapping[str, str], load: Loader = ctypes.CDLL, platform: str = sys.platform) -> str | None:
    """A message naming the missing libraries and how to install them, or None when Qt can start on X11."""
    if not uses_xcb(env, platform):
        return None
    missing = missing_libraries(load)
    if not missing:
        return None
    apt, dnf = install_commands(missing)
    return (
        f"segdesk: Qt cannot start on X11: missing system libraries: {', '.join(missing)}\n"
        f"Install them on Debian/Ubuntu with:\n    {apt}\n"
        f"or on Fedora/RHEL with:\n    {dnf}\n"
        "(other distributions: the packages that provide these files)"
    )

#!/usr/bin/python3
"""A real RTSP camera for tests and for trying the hub by hand: GStreamer's RTSP server.

Run it with Debian's interpreter, /usr/bin/python3 (it needs python3-gi and
gir1.2-gst-rtsp-server-1.0):

    /usr/bin/python3 rtsp_server.py --port 8554 --mount /cam --preset ball

prints `ready port=8554 mount=/cam` once it listens (with --port 0 the port is chosen by the
system and printed). Presets:

    ball   640x360 15 fps H.264 (x264, zerolatency, a keyframe every 15 frames)
    h265   the same in H.265 (x265)
    jpeg   Motion JPEG video (a codec the hub does not record)
    audio  G.711 A-law audio only, no video

or any launch line with --launch '( videotestsrc ! ... ! rtph264pay name=pay0 pt=96 )'.

Exit status 3: a GStreamer element the preset needs is not installed (the message names it).
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

SOURCE = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=15/1"

PRESETS = {
    "ball": (
        f"( {SOURCE} ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 "
        "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
        ["videotestsrc", "x264enc", "rtph264pay"],
    ),
    "h265": (
        f"( {SOURCE} ! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=15 "
        "! rtph265pay name=pay0 pt=96 config-interval=-1 )",
        ["videotestsrc", "x265enc", "rtph265pay"],
    ),
    "jpeg": (
        # RTP/JPEG carries only 4:2:0 or 4:2:2 pictures.
        f"( {SOURCE},format=I420 ! jpegenc ! rtpjpegpay name=pay0 pt=26 )",
        ["videotestsrc", "jpegenc", "rtpjpegpay"],
    ),
    "audio": (
        "( audiotestsrc is-live=true ! audio/x-raw,rate=8000,channels=1 ! alawenc "
        "! rtppcmapay name=pay0 pt=8 )",
        ["audiotestsrc", "alawenc", "rtppcmapay"],
    ),
}


def main():
    parser = argparse.ArgumentParser(description="GStreamer RTSP test camera")
    parser.add_argument("--port", type=int, default=8554, help="0: any free port")
    parser.add_argument("--address", default="127.0.0.1", help="0.0.0.0 to serve the LAN")
    parser.add_argument("--mount", default="/cam")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--preset", choices=sorted(PRESETS), default="ball")
    group.add_argument("--launch", help="a gst-launch line, payloader named pay0")
    parser.add_argument("--user", help="NAME:PASSWORD required with Basic auth")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="quit when standard input closes (so a test's server dies with the test)",
    )
    args = parser.parse_args()

    Gst.init(None)
    if args.launch:
        launch = args.launch
    else:
        launch, elements = PRESETS[args.preset]
        missing = [e for e in elements if Gst.ElementFactory.find(e) is None]
        if missing:
            print(f"missing GStreamer element(s): {' '.join(missing)}", file=sys.stderr)
            sys.exit(3)

    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    # One pipeline shared by all clients: cheap on a small machine, like a real camera.
    factory.set_shared(True)
    if args.user:
        name, _, password = args.user.partition(":")
        add_basic_auth(server, factory, name, password)
    server.get_mount_points().add_factory(args.mount, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr)
        sys.exit(2)

    loop = GLib.MainLoop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    if args.exit_on_stdin_eof:
        GLib.io_add_watch(
            GLib.IOChannel.unix_new(sys.stdin.fileno()),
            GLib.PRIORITY_DEFAULT,
            GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR,
            lambda channel, condition: on_stdin(channel, condition, loop),
        )
    print(f"ready port={server.get_bound_port()} mount={args.mount}", flush=True)
    loop.run()


def add_basic_auth(server, factory, name, password):
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")
    auth = GstRtspServer.RTSPAuth()
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(name, password), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role("user", "media.factory.access", True)
    permissions.add_permission_for_role("user", "media.factory.construct", True)
    factory.set_permissions(permissions)


def on_stdin(channel, condition, loop):
    if condition & (GLib.IOCondition.HUP | GLib.IOCondition.ERR):
        loop.quit()
        return False
    data = sys.stdin.buffer.read1(4096) if hasattr(sys.stdin.buffer, "read1") else b""
    if not data:
        loop.quit()
        return False
    return True


if __name__ == "__main__":
    main()

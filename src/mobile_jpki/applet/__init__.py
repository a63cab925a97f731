"""applet."""

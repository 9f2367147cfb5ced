#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes alpine-boot.raw: a hand-made serial console of an Alpine 3.19 boot under qemu, byte for byte as the programs emit it.
#
# The strings and escape sequences come from the programs' sources, not from
# memory: OpenRC 0.52 src/libeinfo/libeinfo.c (colours "ESC[1m ESC[3Nm",
# ebegin's "\n", eend's cursor-up ESC[A and ESC[<cols>C before "[ ok ]", 80
# columns when the serial line reports none), src/openrc/rc.c (the banner),
# busybox 1.36 getty (issue, "localhost login: ") and lineedit (prompt, then
# ESC[6n), Alpine's /etc/issue, /etc/motd and PS1 '\h:\w\$ ', Linux 6.1
# printk lines. The tty turns every "\n" into "\r\n" (ONLCR); SeaBIOS and iPXE
# come first. The lead may replace it with a recorded console later.
import os

ESC = "\x1b"
GOOD = ESC + "[1m" + ESC + "[32m"
BAD = ESC + "[1m" + ESC + "[31m"
HILITE = ESC + "[1m" + ESC + "[36m"
BRACKET = ESC + "[1m" + ESC + "[34m"
NORMAL = ESC + "[m"
FLUSH = ESC + "[K"
UP = ESC + "[A"
COLS = 80

out = []


def w(s):
    out.append(s.replace("\n", "\r\n"))


def raw(s):
    out.append(s)


def kernel(t, msg):
    w("[%12.6f] %s\n" % (t, msg))


def einfo(msg, indent=0):
    w(" %s*%s %s%s%s\n" % (GOOD, NORMAL, " " * indent, msg, FLUSH))


def ebegin(msg, indent=0):
    w(" %s*%s %s%s%s ...\n" % (GOOD, NORMAL, " " * indent, msg, FLUSH))


def eend(ok=True):
    msg = "ok" if ok else "!!"
    cols = COLS - (len(msg) + 5)
    w("%s%s %s[%s %s %s]%s\n" % (UP, ESC + "[%dC" % cols, BRACKET, GOOD if ok else BAD, msg,
                                  BRACKET, NORMAL))


raw(ESC + "c" + ESC + "[?7l" + ESC + "[2J" + ESC + "[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n")
raw("\r\n\r\niPXE (https://ipxe.org) 00:03.0 CA00 PCI2.10 PnP PMM+1EFD0F80+1EF30F80 CA00\r\n")
raw("Press Ctrl-B to configure iPXE (PCI 00:03.0)...\r" + " " * 79 + "\r\n\r\n\r\n")
raw("Booting from ROM..\r\n" + ESC + "c" + ESC + "[?7l" + ESC + "[2J")
kernel(0.0, "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian "
       "12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP "
       "PREEMPT_DYNAMIC Debian 6.1.147-1 (2025-08-02)")
kernel(0.0, "Command line: console=ttyS0 panic=-1")
kernel(0.0, "BIOS-provided physical RAM map:")
kernel(0.0, "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable")
kernel(0.0, "BIOS-e820: [mem 0x0000000000100000-0x000000001ffdffff] usable")
kernel(0.0, "DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014")
kernel(0.004012, "tsc: Fast TSC calibration using PIT")
kernel(0.118327, "Kernel command line: console=ttyS0 panic=-1")
kernel(0.231845, "printk: console [ttyS0] enabled")
kernel(0.612004, "Serial: 8250/16550 driver, 4 ports, IRQ sharing enabled")
kernel(0.613377, "00:04: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A")
kernel(0.801230, "Unpacking initramfs...")
kernel(0.954120, "Freeing initrd memory: 4124K")
kernel(1.002310, "Freeing unused kernel image (initmem) memory: 2800K")
kernel(1.003105, "Write protecting the kernel read-only data: 26624k")
kernel(1.012998, "Run /init as init process")
w("\n   %sOpenRC %s0.52.1%s is starting up %sLinux 6.1.0-56-amd64 (x86_64)%s\n\n"
  % (GOOD, HILITE, NORMAL, BRACKET, NORMAL))
einfo("/proc is already mounted")
ebegin("Mounting /run")
eend()
einfo("/run/openrc: creating directory")
einfo("/run/lock: creating directory")
einfo("/run/lock: correcting owner")
ebegin("Caching service dependencies")
eend()
ebegin("Remounting devtmpfs on /dev")
eend()
ebegin("Mounting /dev/mqueue")
eend()
ebegin("Mounting security filesystem")
eend()
ebegin("Starting busybox mdev")
eend()
ebegin("Scanning hardware for mdev")
eend()
ebegin("Loading hardware drivers")
kernel(1.512876, "e1000: Intel(R) PRO/1000 Network Driver")
kernel(1.512990, "e1000: Copyright (c) 1999-2006 Intel Corporation.")
kernel(1.798871, "e1000 0000:00:03.0 eth0: (PCI:33MHz:32-bit) 52:54:00:12:34:56")
kernel(1.799102, "e1000 0000:00:03.0 eth0: Intel(R) PRO/1000 Network Connection")
eend()
ebegin("Loading modules")
eend()
ebegin("Setting system clock using the hardware clock [UTC]")
eend()
ebegin("Mounting local filesystems")
eend()
ebegin("Configuring kernel parameters")
eend()
ebegin("Creating user login records")
eend()
ebegin("Setting hostname")
eend()
ebegin("Starting networking")
ebegin("lo", indent=2)
eend()
ebegin("eth0", indent=2)
w("udhcpc: started, v1.36.1\n")
kernel(3.104553, "e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX")
w("udhcpc: broadcasting discover\n")
w("udhcpc: broadcasting select for 10.0.2.15, server 10.0.2.2\n")
w("udhcpc: lease of 10.0.2.15 obtained from 10.0.2.2, lease time 86400\n")
eend()
ebegin("Starting busybox syslog")
eend()
kernel(4.512345, "random: crng init done")
w("\nWelcome to Alpine Linux 3.19\nKernel 6.1.0-56-amd64 on an x86_64 (/dev/ttyS0)\n\n")
w("localhost login: ")
# what the engine types comes back as echo
w("root\n")
w("Welcome to Alpine!\n\n"
  "The Alpine Wiki contains a large amount of how-to guides and general\n"
  "information about administrating Alpine systems.\n"
  "See <https://wiki.alpinelinux.org/>.\n\n"
  "You can setup the system with the command: setup-alpine\n\n"
  "You may change this message by editing /etc/motd.\n\n")
w("localhost:~# ")
raw(ESC + "[6n")
w("ip -4 addr show eth0\n")
w("2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast qlen 1000\n")
w("    inet 10.0.2.15/24 scope global eth0\n")
w("       valid_lft forever preferred_lft forever\n")
w("localhost:~# ")
raw(ESC + "[6n")
w("poweroff\n")
ebegin("Stopping busybox syslog")
eend()
ebegin("Stopping networking")
ebegin("eth0", indent=2)
eend()
ebegin("lo", indent=2)
eend()
einfo("Terminating remaining processes ...")
kernel(9.876543, "reboot: Power down")

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "alpine-boot.raw"), "wb") as f:
    f.write("".join(out).encode())

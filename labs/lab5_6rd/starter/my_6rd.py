"""Lab 5 - 6rd (RFC 5969): a customer edge router of an ISP's IPv6 rapid deployment. Fill in every TODO, then run:

    sudo .venv/bin/testbed lab grade 5 --student YOUR_ID --dir THIS_FOLDER

Addresses are strings ('10.64.1.1', '2001:db8:6001:100::/56'). The standard library's ipaddress module helps.
Your ISP's 6rd prefix and IPv4MaskLen are in params.json (and handout.md).
"""
import ipaddress  # noqa: F401  (you will want it)

BR = '10.64.0.1'            # the ISP's border relay
COMMON_V4 = '10.64.0.0'     # the customers' common IPv4 prefix, cut to IPv4MaskLen bits


def delegated_prefix(sixrd_prefix, v4_common, ce_v4):
    """The IPv6 prefix a CE with IPv4 address ``ce_v4`` owns, as 'address/length' (RFC 5969 section 4).

    ``sixrd_prefix`` is the ISP's 6rd prefix ('2001:db8:6000::/40'), ``v4_common`` its IPv4MaskLen (16): the CE's
    address without its first ``v4_common`` bits follows the 6rd prefix."""
    # TODO: 2001:db8:6000::/40, 16, '10.64.1.1' -> '2001:db8:6001:100::/56'
    raise NotImplementedError


def tunnel_destination(ipv6_destination, sixrd_prefix, v4_common):
    """The IPv4 address a CE sends an IPv6 packet to (the outer header's destination).

    A destination inside the 6rd prefix: the IPv4 address embedded after the prefix (the common first
    ``v4_common`` bits are those of COMMON_V4). Any other destination: the border relay, BR."""
    # TODO
    raise NotImplementedError


# ce1's configuration (handout task 2): the grader applies exactly this to ce1 and host a.
CE = {
    'delegated_prefix': None,   # TODO: ce1's delegated prefix (its IPv4 address is 10.64.1.1)
    'lan_prefix': None,         # TODO: subnet 1 of it, a /64
    'router_address': None,     # TODO: ce1's address on that LAN (interface id ::1)
    'host_address': None,       # TODO: host a's address on that LAN (interface id ::10)
    'tunnel_address': None,     # TODO: 'address/length': the delegated prefix's ::1, with the 6rd prefix's length
    'default_via': None,        # TODO: the BR as an IPv4-compatible IPv6 address, ::a.b.c.d
}

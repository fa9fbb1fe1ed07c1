"""Measuring the network and comparing with theory.

- pure (layer 1): ``compare`` (the one measured-vs-expected type every report uses), ``theory`` (the textbook
  arithmetic, each formula once: frame sizes, TCP efficiency, 6to4's goodput ratio, L/R + d, the bandwidth-delay
  product), ``multiplexing`` (on/off sources: peaks, quantiles, fluid-queue loss, Erlang-B);
- layer 3: ``probes`` (ping, traceroute, iperf3, UDP probes, on/off runs in a running network), ``udpprobe`` and
  ``onoff`` (the programs those run inside hosts), ``fidelity`` (the RTT tolerances, with the measured allowances
  of an emulated CPU and a userspace switch).

May import: layers 0-2.
"""

"""One network across several servers (Mininet's cluster edition), and the servers it runs on.

- ``plan`` (pure, layer 1): the fake servers' addresses, their sshd and the client's ssh configuration, and the
  doctor's verdicts from what each server reported;
- ``remote`` (layer 3): a command on a server over ssh in batch mode, the one ssh client of the package;
- ``fake`` (layer 3): servers on this machine that a cluster run can reach only as it reaches real ones, each with
  its own network namespace, sshd, Open vSwitch and view of the run state (for tests and for trying it out);
- ``doctor`` (layer 3): checks each server and says exactly what to fix;
- ``setup`` (layer 3): the one-time steps on each server (a key, sshd's PermitTunnel), then the doctor;
- ``agent`` (layer 3): the testbed on a server during a cluster run, keeping that server's records;
- ``nodes`` (layer 3): hosts and switches on a server, their every ssh recorded;
- ``links`` (layer 3): veths on a server, ssh tunnels between two, a delay line where a link's delay needs one;
- ``delay`` (layer 3): delay, jitter and loss on servers without netem, by a delay line on one of the link's servers;
- ``net`` (layer 3): the network across servers, Mininet's cluster edition with the testbed's rules.

May import: layers 0-3 (the controller node, link parameters).
"""

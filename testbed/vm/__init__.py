"""The VM stage: the kernel path (netem, sit, the OVS kernel datapath) tested on a stock Debian kernel under QEMU.

- ``plan`` (pure, layer 1): the guest's test selection, apt mirror parsing, module closure, image key;
- ``stage`` (layer 4): building the image, booting it, bringing the results back.

May import: layers 0-2.
"""

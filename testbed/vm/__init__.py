"""The VM stage and the Vagrant box: the kernel path (netem, sit, the OVS kernel datapath) tested on stock Debian
kernels under QEMU, and the project's Vagrantfile brought up for real.

- ``plan`` (pure, layer 1): the guest's test selection, the Debian releases, apt mirror parsing, module closure,
  image and box keys, the box's metadata and Vagrantfile;
- ``image`` (layer 4): building a Debian 12 or 13 image for the VM stage (and the helpers the box shares);
- ``stage`` (layer 4): booting an image, running the tests in it, bringing the results back;
- ``box`` (layer 4): building the Vagrant box for vagrant-libvirt from the apt mirror;
- ``vagrant`` (layer 4): ``make test-vagrant`` -- vagrant up, make demo in the box, vagrant destroy, in a sandbox
  of namespaces with its own libvirtd.

May import: layers 0-2, and each other.
"""

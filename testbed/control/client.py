"""The controller's REST API seen from another command: ``testbed circuits`` while ``testbed run ... --controller``
holds the network (the run directory says where the controller listens: ``controller.json``)."""
from testbed.control.api import ControllerApi
from testbed.errors import TestbedError
from testbed.system.runstate import find_run_file


def check_circuit_request(action, src=None, dst=None, rate=None, circuit_id=None):
    """Refuse an incomplete or malformed circuits command before any network is asked; return the rate in
    bits/s (reserve) or None."""
    from testbed.units import parse_rate
    if action == 'reserve':
        if not (src and dst and rate):
            raise TestbedError('testbed circuits reserve needs SRC DST RATE (for example: reserve h1 h3 4)')
        if src == dst:
            raise TestbedError(f'a circuit joins two different hosts, not {src} to itself')
        return parse_rate(rate, 'rate')
    if action == 'teardown' and not (circuit_id or '').isdigit():
        raise TestbedError(f'testbed circuits teardown needs --id N, a circuit number (see: testbed circuits), '
                           f'not {circuit_id!r}' if circuit_id else 'testbed circuits teardown needs --id N')
    return None


def circuits_command(action, run_id=None, src=None, dst=None, rate=None, circuit_id=None):
    """List, reserve or tear down circuits through the running controller's REST API."""
    from testbed.units import format_rate
    rate = check_circuit_request(action, src, dst, rate, circuit_id)
    _run, info = find_run_file(run_id, 'controller.json')
    api = ControllerApi(info['rest_port'])
    if action == 'reserve':
        status, answer = api.reserve(src, dst, rate)
        if status != 200:
            raise TestbedError(f'circuit refused: {answer.get("error", status)}')
        print(f'circuit {answer["id"]}: {answer["src"]} -> {answer["dst"]}, {format_rate(answer["rate"])}, '
              f'via {" - ".join(answer["path"])}')
    elif action == 'teardown':
        status, answer = api.teardown(circuit_id)
        if status != 200:
            raise TestbedError(answer.get('error', f'teardown failed ({status})'))
        print(f'circuit {circuit_id} torn down')
    else:
        answer = api.circuits()
        for circuit in answer['circuits']:
            print(f'circuit {circuit["id"]}: {circuit["src"]} -> {circuit["dst"]}, {format_rate(circuit["rate"])}, '
                  f'via {" - ".join(circuit["path"])}')
        for link in answer['links']:
            print(f'link {link["link"]}: {format_rate(link["reserved"]) if link["reserved"] else "nothing"} '
                  f'reserved of {format_rate(link["capacity"])}')
        if not answer['circuits'] and not answer['links']:
            print('no circuits; no link has a bandwidth (bw) to reserve')
    return 0

"""A PLC programmer's look at the policy server's register map, with pymodbus.

Usage: pymodbus_client.py PORT OBSERVATION_JSON
Reads the map's header, writes one request block (command 2: new run, then
act; sequence 4242; the observation as float32, high word first), reads the
result and the applied action, and prints them as JSON.
"""

import json
import struct
import sys

from pymodbus.client import ModbusTcpClient


def words(x):
    hi, lo = struct.unpack(">HH", struct.pack(">f", x))
    return [hi, lo]


def value(hi, lo):
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


def registers(client, address, count):
    r = client.read_holding_registers(address, count=count)
    if r.isError():
        raise SystemExit(f"read of {count} registers at {address} failed: {r}")
    return r.registers


def main():
    port, obs = int(sys.argv[1]), json.loads(sys.argv[2])
    client = ModbusTcpClient("127.0.0.1", port=port)
    if not client.connect():
        raise SystemExit(f"cannot connect to 127.0.0.1:{port}")
    version, n_obs, n_act = registers(client, 0, 3)
    request = [2, 4242] + [w for x in obs for w in words(x)]
    w = client.write_registers(100, request)
    if w.isError():
        raise SystemExit(f"the request write failed: {w}")
    status = registers(client, 0, 10)
    action = registers(client, 200, 2 * n_act)
    client.close()
    print(json.dumps({
        "version": version,
        "n_obs": n_obs,
        "n_act": n_act,
        "result": status[3],
        "sequence": status[4],
        "flags": status[7],
        "action": [value(action[2 * i], action[2 * i + 1]) for i in range(n_act)],
    }))


if __name__ == "__main__":
    main()

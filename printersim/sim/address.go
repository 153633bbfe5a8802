package sim

import (
	"fmt"
	"net/netip"
)

// perAddressHosts is how many host numbers each 127.0.x.0/24 contributes in
// PerAddress mode: .1 to .254 (.0 and .255 look like network and broadcast
// addresses to people and some tools, even on loopback).
const perAddressHosts = 254

// perAddress is device i's address in PerAddress mode: 127.0.1.1, 127.0.1.2,
// … 127.0.1.254, 127.0.2.1, … up to 127.0.255.254 (64,770 devices). Linux
// answers on all of 127.0.0.0/8 without configuration; other systems may
// need the aliases added to the loopback interface.
func perAddress(i int) (netip.Addr, error) {
	third := 1 + i/perAddressHosts
	if i < 0 || third > 255 {
		return netip.Addr{}, fmt.Errorf("device %d: PerAddress mode has room for %d devices", i, 255*perAddressHosts)
	}
	return netip.AddrFrom4([4]byte{127, 0, byte(third), byte(1 + i%perAddressHosts)}), nil
}

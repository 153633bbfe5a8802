package snmp

import (
	"context"
	"errors"
	"fmt"

	"github.com/gosnmp/gosnmp"
)

// maxWalkValues bounds one walk. A printer table has tens to hundreds of
// rows; an agent that keeps answering past this is looping.
const maxWalkValues = 20000

// errBulkRefused says that the agent answered a GetBulk with an error, or
// stopped answering at a GetBulk: the walk is to be done with GetNext.
var errBulkRefused = errors.New("agent refused GETBULK")

// walk fetches the subtree below root with GetBulk (bulk) or GetNext.
//
// We run the request loop ourselves rather than through gosnmp's Walk and
// BulkWalk: those end a walk silently on any error status, so a refused
// GetBulk or a tooBig would look like an empty table. Like net-snmp's -Cc
// (gosnmp's AppOpts "c"), the loop accepts OIDs that do not increase, which
// some printers return; it guards against loops itself by stopping when a
// response brings no OID it has not seen, and by bounding the walk.
func (c *client) walk(ctx context.Context, root string, bulk bool) ([]PDU, error) {
	var (
		out     []PDU
		seen    = make(map[string]struct{})
		next    = root
		maxReps = c.maxRepetitions
	)
	for {
		resp, err := c.send(ctx, func() (*gosnmp.SnmpPacket, error) {
			if bulk {
				return c.req.GetBulk([]string{"." + next}, 0, maxReps)
			}
			return c.req.GetNext([]string{"." + next})
		})
		if err != nil {
			if bulk && c.answered && silent(err) && len(out) == 0 {
				// Some agents drop GetBulk requests they do not support.
				return nil, errBulkRefused
			}
			return nil, fmt.Errorf("walk %s: %w", root, err)
		}
		switch {
		case resp.Error == gosnmp.NoError:
		case bulk && resp.Error == gosnmp.TooBig && maxReps > 1:
			maxReps /= 2
			continue
		case bulk:
			return nil, errBulkRefused
		case resp.Error == gosnmp.NoSuchName:
			// SNMPv1 ends a GetNext walk at the end of the MIB view this way.
			return out, nil
		default:
			return nil, fmt.Errorf("walk %s: agent answered %s", root, resp.Error)
		}

		fresh, done := 0, len(resp.Variables) == 0
		for _, v := range resp.Variables {
			if v.Type == gosnmp.EndOfMibView || v.Type == gosnmp.NoSuchObject || v.Type == gosnmp.NoSuchInstance {
				done = true
				break
			}
			oid := NormalizeOID(v.Name)
			if !InSubtree(root, oid) {
				done = true
				break
			}
			next = oid
			if _, dup := seen[oid]; dup {
				continue
			}
			seen[oid] = struct{}{}
			fresh++
			if p, ok := convert(v); ok {
				out = append(out, p)
			}
		}
		switch {
		case done:
			return out, nil
		case fresh == 0:
			// Nothing new: the agent is going round in circles.
			return out, nil
		case len(seen) > maxWalkValues:
			return nil, fmt.Errorf("walk %s: more than %d values, the agent seems to loop", root, maxWalkValues)
		}
	}
}

// Package logs writes and reads container logs in the CRI log format, the
// files upstream's kubelet reads: one record per line of output,
//
//	2026-12-02T07:41:46.123456789Z stdout F the line's content
//
// with the time the line was read, the stream it came from and a tag: F for
// a full line (its newline is the record's), P for a partial one (a line
// longer than MaxLineSize, cut into pieces of that size, or a last line the
// container left without a newline), whose content continues in the next
// record of the stream.
//
// A File writes the records of a container's streams (Stream returns one
// io.WriteCloser per stream, which cuts what is written to it into lines);
// ReadLogs turns a file back into what `kubectl logs` prints: the content
// only, or with each line's time in front (timestamps), from a time on
// (sinceSeconds, sinceTime), its last lines (tailLines), at most a number of
// bytes (limitBytes), and following what is appended while the container
// runs (follow).
package logs

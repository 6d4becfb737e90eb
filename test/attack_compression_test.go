package test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"hash/adler32"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestCompressedBodiesAreRefused: a body sent with any Content-Encoding
// but identity is refused with 415 and never inflated. The attack is a
// request of a few KB that inflates to 1 GiB, once for each layer of a
// "gzip, gzip" or "deflate, deflate" list: it must cost the service no
// memory, send no SMS and spend none of the number's cooldown.
func TestCompressedBodiesAreRefused(t *testing.T) {
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) { testCompressedBodiesAreRefused(t, storeOptions(t, store)) })
	}
}

const (
	bombPhone = "13800000001"
	// bombBody is the JSON the bombs inflate to, around 1 GiB of spaces: a
	// valid request, so a service that inflates it goes on to send a code.
	bombHead, bombTail = `{"phone_number":"` + bombPhone + `"`, `}`
	bombSpaces         = 1 << 30
	refusedEncoding    = `{"code":0,"message":"请求参数错误","error":"unsupported_encoding"}`
)

func testCompressedBodiesAreRefused(t *testing.T, store options) {
	in := start(t, store)
	bombs := compressionBombs()
	for _, enc := range []string{"gzip, gzip", "deflate, deflate", "GZIP,gzip"} {
		body := bombs[strings.ToLower(strings.SplitN(enc, ",", 2)[0])]
		if len(body) > 16<<10 {
			t.Fatalf("%s bomb is %d bytes, over the body limit: it would not test inflation", enc, len(body))
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		a := in.postWith(t, "/client/register-step-1", string(body), "Content-Encoding", enc)
		runtime.ReadMemStats(&after)
		if a.Status != 415 || a.Raw != refusedEncoding {
			t.Errorf("%s bomb (%d bytes): %d %s, want 415 %s", enc, len(body), a.Status, a.Raw, refusedEncoding)
		}
		// Everything the process allocated while the request was served,
		// garbage included: inflating would be at least 1 GiB.
		grown := after.TotalAlloc - before.TotalAlloc
		if grown > 32<<20 {
			t.Errorf("%s bomb: the process allocated %d MiB while serving it", enc, grown>>20)
		}
		t.Logf("%s bomb of %d bytes: refused, %d KiB allocated by the process meanwhile", enc, len(body), grown>>10)
	}

	// Several at once, as an attacker would send them to exhaust memory.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			enc, body := "gzip, gzip", bombs["gzip"]
			if i%2 == 1 {
				enc, body = "deflate, deflate", bombs["deflate"]
			}
			statuses[i] = in.postWith(t, "/client/register-step-1", string(body), "Content-Encoding", enc).Status
		})
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	for i, st := range statuses {
		if st != 415 {
			t.Errorf("parallel bomb %d: %d, want 415", i, st)
		}
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
		t.Errorf("%d bombs at once: the process allocated %d MiB", len(statuses), grown>>20)
	}

	// One encoding, or any other name: refused before anything reads the
	// body, whatever the body holds.
	plain := `{"phone_number":"` + bombPhone + `"}`
	refused := []struct{ enc, body string }{
		{"gzip", string(gzipOf([]byte(plain)))},
		{"deflate", string(zlibOf([]byte(plain)))},
		{"br", plain},
		{"zstd", plain},
		{" x-gzip ", plain},
		{"identity, gzip", string(gzipOf([]byte(plain)))},
		{"no-such-coding", plain},
	}
	for _, r := range refused {
		if a := in.postWith(t, "/client/register-step-1", r.body, "Content-Encoding", r.enc); a.Status != 415 || a.Raw != refusedEncoding {
			t.Errorf("Content-Encoding %q: %d %s, want 415", r.enc, a.Status, a.Raw)
		}
	}
	// Two header lines, the encoded one first: each line counts.
	if a := in.postWith(t, "/client/register-step-1", string(gzipOf([]byte(plain))), "Content-Encoding", "gzip", "Content-Encoding", "identity"); a.Status != 415 {
		t.Errorf("gzip line then identity line: %d %s, want 415", a.Status, a.Raw)
	}
	if n := in.sms.Sends(); n != 0 {
		t.Fatalf("%d SMS sent for refused requests", n)
	}

	// Nothing of the number's cooldown or quota was spent: its first plain
	// step 1 is sent. identity is no encoding at all.
	in.expect(t, "/client/register-step-1", m{"phone_number": bombPhone}, 200, `{"code":1,"message":"发送成功"}`)
	if a := in.postWith(t, "/client/register-step-1", m{"phone_number": "13800000002"}, "Content-Encoding", "Identity"); a.Raw != `{"code":1,"message":"发送成功"}` {
		t.Errorf("Content-Encoding identity: %d %s", a.Status, a.Raw)
	}

	// Each refusal is an answer like any other: one access-log line and
	// one metrics observation, under the route it was sent to.
	var logged int
	for _, e := range in.logs.FilterMessage("request").All() {
		if e.ContextMap()["status"] == int64(415) {
			logged++
		}
	}
	want := 3 + 8 + len(refused) + 1
	if logged != want {
		t.Errorf("%d access-log lines with status 415, want %d", logged, want)
	}
	_, _, metrics := in.get(t, "/metrics")
	if line := `phoneauth_http_requests_total{route="/client/register-step-1",status="415"} ` + strconv.Itoa(want) + "\n"; !strings.Contains(metrics, line) {
		t.Errorf("metrics lack %q", line)
	}
}

// compressionBombs builds, once, "gzip, gzip" and "deflate, deflate"
// bodies of a few KB each that inflate to bombHead, bombSpaces spaces
// and bombTail. Compressing 1 GiB would take seconds; instead the inner
// layer repeats one compressed MiB of spaces: for gzip as 1024 gzip
// members (a gzip stream may hold many), for deflate as 1024 copies of the
// deflate blocks that encode one MiB of spaces after spaces, in one zlib
// stream whose checksum is worked out without the data.
var compressionBombs = sync.OnceValue(func() map[string][]byte {
	mib := bytes.Repeat([]byte{' '}, 1<<20)
	n := bombSpaces / len(mib)

	var g bytes.Buffer
	g.Write(gzipOf([]byte(bombHead)))
	member := gzipOf(mib)
	for range n {
		g.Write(member)
	}
	g.Write(gzipOf([]byte(bombTail)))

	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	segment := func(p []byte, final bool) []byte {
		raw.Reset()
		_, _ = fw.Write(p)
		if final {
			_ = fw.Close()
		} else {
			_ = fw.Flush() // ends on a byte boundary: segments concatenate
		}
		return bytes.Clone(raw.Bytes())
	}
	var z bytes.Buffer
	z.Write([]byte{0x78, 0xda}) // zlib header: deflate, 32 KiB window
	z.Write(segment(append([]byte(bombHead), mib...), false))
	steady := segment(mib, false) // its matches reach back into spaces only
	for range n - 1 {
		z.Write(steady)
	}
	z.Write(segment([]byte(bombTail), true))
	sum := adler{a: 1}
	sum.add([]byte(bombHead))
	sum.addRun(' ', bombSpaces)
	sum.add([]byte(bombTail))
	z.Write(binary.BigEndian.AppendUint32(nil, sum.value()))

	return map[string][]byte{"gzip": gzipOf(g.Bytes()), "deflate": zlibOf(z.Bytes())}
})

func gzipOf(p []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = w.Write(p)
	_ = w.Close()
	return b.Bytes()
}

// zlibOf is p as an HTTP "deflate" body: a zlib stream.
func zlibOf(p []byte) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	_, _ = w.Write(p)
	_ = w.Close()
	return b.Bytes()
}

// adler is an Adler-32 sum (RFC 1950) that can add a run of one byte in
// constant time; it starts as adler{a: 1}.
type adler struct{ a, b uint64 }

const adlerMod = 65521

func (s *adler) add(p []byte) {
	for _, c := range p {
		s.addRun(c, 1)
	}
}

// addRun adds k copies of c: a grows by c each byte, and b by each new a.
func (s *adler) addRun(c byte, k uint64) {
	s.b = (s.b + k%adlerMod*s.a + uint64(c)*(k*(k+1)/2%adlerMod)) % adlerMod
	s.a = (s.a + uint64(c)*(k%adlerMod)) % adlerMod
}

func (s *adler) value() uint32 {
	return uint32(s.b<<16 | s.a)
}

// TestBombChecksum: the deflate bomb's checksum, worked out without the
// data, is the checksum of the data.
func TestBombChecksum(t *testing.T) {
	data := []byte(bombHead + strings.Repeat(" ", 200_000) + bombTail)
	sum := adler{a: 1}
	sum.add([]byte(bombHead))
	sum.addRun(' ', 200_000)
	sum.add([]byte(bombTail))
	if got, want := sum.value(), adler32.Checksum(data); got != want {
		t.Fatalf("adler: %08x, want %08x", got, want)
	}
}

package mongotest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodriver "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/phoneauth/phoneauth/test/mongotest"
)

func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

func TestStartServesMongo(t *testing.T) {
	uri := mongotest.Start(t)
	if !strings.HasPrefix(uri, "mongodb://") {
		t.Fatalf("Start = %q, want a mongodb:// URI", uri)
	}
	db := mongotest.Database(t, uri)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mongodriver.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	coll := c.Database(db).Collection("probe")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got struct {
		N int `bson:"n"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "x"}}).Decode(&got); err != nil || got.N != 1 {
		t.Fatalf("find = %+v, %v", got, err)
	}

	// A second Start in the same process shares the server.
	if again := mongotest.Start(t); again != uri {
		t.Errorf("second Start = %q, want the shared %q", again, uri)
	}
}

// The skip and the failure without Docker are checked in a child process,
// since they end the test that meets them.
const childEnv = "MONGOTEST_CHILD"

func TestChildStart(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("run by TestWithoutDocker")
	}
	mongotest.Start(t)
	t.Log("started")
}

func TestWithoutDocker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		require string
		wantOK  bool
		want    string
	}{
		{"skips", "", true, "--- SKIP: TestChildStart"},
		{"fails with REQUIRE_DOCKER=1", "1", false, "--- FAIL: TestChildStart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildStart$", "-test.v")
			var env []string
			for _, kv := range os.Environ() {
				switch strings.SplitN(kv, "=", 2)[0] {
				case "MONGO_TEST_URI", "DOCKER_HOST", "REQUIRE_DOCKER", "DOCKER_CONTEXT":
				default:
					env = append(env, kv)
				}
			}
			// A socket nobody serves: as good as a machine without Docker.
			cmd.Env = append(env, childEnv+"=1", "DOCKER_HOST=unix://"+t.TempDir()+"/docker.sock", "REQUIRE_DOCKER="+tc.require)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.wantOK {
				t.Errorf("child exit: %v, want success %v", err, tc.wantOK)
			}
			if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "no Docker engine reachable") {
				t.Errorf("child output lacks %q and the reason:\n%s", tc.want, out)
			}
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("noticing there is no Docker took %s", took)
			}
			t.Logf("child said:\n%s", out)
		})
	}
}

package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/store"
	"github.com/switchyardhq/switchyard/internal/store/sqlstore"
)

// BenchmarkDeliveryClaimShared is BenchmarkDeliveryClaim with the limits that hold across nodes
// (Shared: the per-connection lock, the leased-row count and the limit rows), to compare with it.
func BenchmarkDeliveryClaimShared(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqlstore.DB) {
		tn, names := claimTenant(b, db)
		for _, n := range []int{1, 8, claimBatch} {
			b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					queueBatch(b, db, tn, names, n)
					b.StartTimer()
					now := time.Now()
					cs, err := db.DeliveryClaim(context.Background(), store.DeliveryClaimParams{Now: now, LeaseUntil: now.Add(time.Minute),
						Limit: n, PerConnection: claimPerConn, Shared: true})
					if err != nil {
						b.Fatal(err)
					}
					if len(cs) != n {
						b.Fatalf("claimed %d, want %d", len(cs), n)
					}
					b.StopTimer()
					if _, err := db.DeliveryRecordBatch(context.Background(), delivered(cs)); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
			})
		}
	})
}

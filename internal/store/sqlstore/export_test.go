package sqlstore

// ColumnTypesPG are the PostgreSQL types that the array statements (eventInsertStatement,
// setEventStatuses) cast their arrays to, per table, with the columns they stand for.
var ColumnTypesPG = []struct {
	Table, Columns string
	Types          []string
}{
	{"events", eventCols + ", payload", eventTypesPG},
	{"deliveries", deliveryCols, deliveryTypesPG},
	{"events", "id, status, completed_count, failed_count, completed_at", eventStatusTypesPG},
}

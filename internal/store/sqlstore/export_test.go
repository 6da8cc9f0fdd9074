package sqlstore

// ColumnTypesPG are the PostgreSQL types that the array statement (eventInsertStatement) casts
// its arrays to, per table, with the columns they stand for.
var ColumnTypesPG = []struct {
	Table, Columns string
	Types          []string
}{
	{"events", eventCols + ", payload", eventTypesPG},
	{"deliveries", deliveryCols, deliveryTypesPG},
}

module github.com/meterline/meterline/printersim

go 1.26.8

require github.com/gosnmp/gosnmp v1.47.0

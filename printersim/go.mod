module github.com/meterline/meterline/printersim

go 1.26.8

require github.com/gosnmp/gosnmp v1.47.0

require github.com/meterline/meterline/shared v0.0.0

replace github.com/meterline/meterline/shared => ../shared

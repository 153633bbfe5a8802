module github.com/meterline/meterline/shared

go 1.26.8

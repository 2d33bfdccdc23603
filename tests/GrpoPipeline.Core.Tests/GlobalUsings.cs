global using GrpoPipeline.Core;
global using NUnit.Framework;
